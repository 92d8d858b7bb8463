//! `cargo run -p xtask -- semconv [--model DIR] [--out DIR]`: regenerates `otlp-semconv`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(task) = args.next() else {
        eprintln!("usage: cargo run -p xtask -- semconv [--model DIR] [--out DIR]");
        return ExitCode::FAILURE;
    };
    if task != "semconv" {
        eprintln!("unknown task {task:?}; the one task is `semconv`");
        return ExitCode::FAILURE;
    }
    let mut model = xtask::model_root();
    let mut out = xtask::default_out_dir();
    while let Some(flag) = args.next() {
        let value = args.next().map(PathBuf::from);
        match (flag.as_str(), value) {
            ("--model", Some(v)) => model = v,
            ("--out", Some(v)) => out = v,
            _ => {
                eprintln!("unknown or incomplete option {flag:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    match xtask::generate(&model, &out) {
        Ok(files) => {
            eprintln!("wrote {} files to {}", files.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
