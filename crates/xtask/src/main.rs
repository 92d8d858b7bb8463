//! `cargo run -p xtask -- semconv [--model DIR] [--out DIR]`: regenerates `otlp-semconv`;
//! `cargo run -p xtask --features check -- semconv --check [--model DIR]`: checks it against
//! the model.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(task) = args.next() else {
        eprintln!("usage: cargo run -p xtask -- semconv [--check] [--model DIR] [--out DIR]");
        return ExitCode::FAILURE;
    };
    if task != "semconv" {
        eprintln!("unknown task {task:?}; the one task is `semconv`");
        return ExitCode::FAILURE;
    }
    let mut model = xtask::model_root();
    let mut out = xtask::default_out_dir();
    let mut check = false;
    while let Some(flag) = args.next() {
        if flag == "--check" {
            check = true;
            continue;
        }
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
    if check {
        return run_check(&model, &out);
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

#[cfg(feature = "check")]
fn run_check(model: &std::path::Path, generated: &std::path::Path) -> ExitCode {
    match xtask::check::check(model, generated) {
        Ok(s) => {
            eprintln!(
                "semconv check: ok ({} generated files, {} attributes, {} metrics match the model at {})",
                s.files,
                s.attributes,
                s.metrics,
                model.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("semconv check failed:\n{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "check"))]
fn run_check(_: &std::path::Path, _: &std::path::Path) -> ExitCode {
    eprintln!(
        "--check needs the `check` feature: cargo run -p xtask --features check -- semconv --check"
    );
    ExitCode::FAILURE
}
