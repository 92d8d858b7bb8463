//! `host.*` and `os.*`.

use super::{Detector, Source};
use otlp_proto::common::KeyValue;
use otlp_semconv::attribute as a;

/// `host.name` (`/proc/sys/kernel/hostname`, `/etc/hostname`, then `$HOSTNAME`), `host.arch`
/// (of the running binary) and `host.id` (`/etc/machine-id`, then
/// `/var/lib/dbus/machine-id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HostDetector;

impl Detector for HostDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let mut out = Vec::new();
        let name = source
            .read_line("/proc/sys/kernel/hostname")
            .or_else(|| source.read_line("/etc/hostname"))
            .or_else(|| source.var("HOSTNAME"));
        if let Some(name) = name {
            out.push(KeyValue::new(a::HOST_NAME, name));
        }
        if let Some(arch) = arch(std::env::consts::ARCH) {
            out.push(KeyValue::new(a::HOST_ARCH, arch));
        }
        let id = source
            .read_line("/etc/machine-id")
            .or_else(|| source.read_line("/var/lib/dbus/machine-id"));
        if let Some(id) = id {
            out.push(KeyValue::new(a::HOST_ID, id));
        }
        out
    }
}

/// The `host.arch` value for a Rust target architecture.
pub fn arch(rust_arch: &str) -> Option<&'static str> {
    use a::host_arch as h;
    Some(match rust_arch {
        "x86_64" => h::AMD64,
        "x86" => h::X86,
        "aarch64" => h::ARM64,
        "arm" => h::ARM32,
        "powerpc" => h::PPC32,
        "powerpc64" => h::PPC64,
        "s390x" => h::S390X,
        _ => return None,
    })
}

/// `os.type` (of the running binary), and from `/etc/os-release` (or
/// `/usr/lib/os-release`) `os.name`, `os.version` and `os.description`, the latter with the
/// kernel release from `/proc/sys/kernel/osrelease` when known.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsDetector;

impl Detector for OsDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let mut out = Vec::new();
        if let Some(t) = os_type(std::env::consts::OS) {
            out.push(KeyValue::new(a::OS_TYPE, t));
        }
        let release = source
            .read("/etc/os-release")
            .or_else(|| source.read("/usr/lib/os-release"))
            .unwrap_or_default();
        let field = |key: &str| {
            release.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key)
                    .then(|| v.trim().trim_matches(['"', '\'']).to_owned())
                    .filter(|v| !v.is_empty())
            })
        };
        if let Some(name) = field("NAME") {
            out.push(KeyValue::new(a::OS_NAME, name));
        }
        if let Some(version) = field("VERSION_ID") {
            out.push(KeyValue::new(a::OS_VERSION, version));
        }
        let kernel = source.read_line("/proc/sys/kernel/osrelease");
        let description = match (field("PRETTY_NAME"), kernel) {
            (Some(p), Some(k)) => Some(format!("{p} (kernel {k})")),
            (Some(p), None) => Some(p),
            (None, Some(k)) => Some(format!("{} {k}", std::env::consts::OS)),
            (None, None) => None,
        };
        if let Some(d) = description {
            out.push(KeyValue::new(a::OS_DESCRIPTION, d));
        }
        out
    }
}

/// The `os.type` value for a Rust target OS.
pub fn os_type(rust_os: &str) -> Option<&'static str> {
    use a::os_type as o;
    Some(match rust_os {
        "linux" | "android" => o::LINUX,
        "windows" => o::WINDOWS,
        "macos" | "ios" => o::DARWIN,
        "freebsd" => o::FREEBSD,
        "netbsd" => o::NETBSD,
        "openbsd" => o::OPENBSD,
        "dragonfly" => o::DRAGONFLYBSD,
        "solaris" | "illumos" => o::SOLARIS,
        "aix" => o::AIX,
        _ => return None,
    })
}
