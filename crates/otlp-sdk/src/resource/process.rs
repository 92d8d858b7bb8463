//! `process.*`: pid, executable, command line and runtime.

use super::{Detector, Source};
use otlp_proto::common::{AnyValue, ArrayValue, KeyValue, Value};
use otlp_semconv::attribute as a;
use std::path::PathBuf;

/// `process.pid`, `process.executable.name` and `.path`, `process.command`,
/// `process.command_args`, and `process.runtime.{name,version,description}` (`rust`, the
/// version of the compiler that built this crate).
///
/// Read from `/proc/self/{stat,exe,cmdline}` under the source's root; on the real machine the
/// running process fills any gap (so non-Linux systems get the pid and executable too).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessDetector;

impl Detector for ProcessDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let system = source.is_system_root();
        let mut out = Vec::new();
        let pid = source
            .read("/proc/self/stat")
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<i64>().ok())
            })
            .or_else(|| system.then(|| i64::from(std::process::id())));
        if let Some(pid) = pid {
            out.push(KeyValue::new(a::PROCESS_PID, pid));
        }
        let exe: Option<PathBuf> = std::fs::read_link(source.path("/proc/self/exe"))
            .ok()
            .or_else(|| {
                if system {
                    std::env::current_exe().ok()
                } else {
                    None
                }
            });
        if let Some(exe) = exe {
            if let Some(name) = exe.file_name() {
                out.push(KeyValue::new(
                    a::PROCESS_EXECUTABLE_NAME,
                    name.to_string_lossy().into_owned(),
                ));
            }
            out.push(KeyValue::new(
                a::PROCESS_EXECUTABLE_PATH,
                exe.to_string_lossy().into_owned(),
            ));
        }
        let args: Vec<String> = match source.read("/proc/self/cmdline") {
            Some(s) => s
                .split('\0')
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
            None if system => std::env::args_os()
                .map(|x| x.to_string_lossy().into_owned())
                .collect(),
            None => Vec::new(),
        };
        if let Some(first) = args.first() {
            out.push(KeyValue::new(a::PROCESS_COMMAND, first.clone()));
            let values = args.iter().map(|x| AnyValue::from(x.clone())).collect();
            out.push(KeyValue::new(
                a::PROCESS_COMMAND_ARGS,
                AnyValue::new(Value::ArrayValue(ArrayValue { values })),
            ));
        }
        out.push(KeyValue::new(a::PROCESS_RUNTIME_NAME, "rust"));
        let version = env!("OTLP_RUSTC_VERSION");
        if let Some(v) = version.split_whitespace().nth(1) {
            out.push(KeyValue::new(a::PROCESS_RUNTIME_VERSION, v));
        }
        out.push(KeyValue::new(a::PROCESS_RUNTIME_DESCRIPTION, version));
        out
    }
}
