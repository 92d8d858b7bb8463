//! Workspace tasks. Today one: generating `otlp-semconv` from the semantic-conventions model.
//!
//! ```text
//! cargo run -p xtask -- semconv [--model DIR] [--out DIR]
//! cargo run -p xtask --features check -- semconv --check [--model DIR]
//! ```
//!
//! The model root defaults to `<workspace>/../shared/semconv` (or `$OTLP_SEMCONV_MODEL`), the
//! output to `crates/otlp-semconv/src/generated`. Output is deterministic (everything sorted) and
//! formatted with `rustfmt`. `--check` (feature `check`) verifies, against the model, that the
//! checked-in code is what the generator writes and that the compiled tables hold what the
//! model defines; the test command runs it where the model is present (it is not part of the
//! repository, so `otlp-semconv`'s own tests do not need it).

#[cfg(feature = "check")]
pub mod check;
pub mod markdown;
pub mod model;
pub mod render;

use model::Error;
use std::path::{Path, PathBuf};

/// The model root: `$OTLP_SEMCONV_MODEL` if set, else [`model::default_model_root`].
pub fn model_root() -> PathBuf {
    std::env::var_os("OTLP_SEMCONV_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(model::default_model_root)
}

/// Where the generated files are checked in.
pub fn default_out_dir() -> PathBuf {
    model::workspace_root().join("crates/otlp-semconv/src/generated")
}

/// Loads the model under `model_root` and writes the generated files into `out` (replacing the
/// `.rs` files there), formatted with rustfmt. Returns the paths written, relative to `out`.
pub fn generate(model_root: &Path, out: &Path) -> Result<Vec<String>, Error> {
    let model = model::load(model_root)?;
    let files = render::render(&model)?;
    if out.exists() {
        for old in rust_files(out)? {
            std::fs::remove_file(out.join(&old))
                .map_err(|e| Error(format!("removing {old}: {e}")))?;
        }
    }
    let mut written = Vec::new();
    for (rel, text) in &files {
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error(format!("creating {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, text).map_err(|e| Error(format!("writing {rel}: {e}")))?;
        written.push(rel.clone());
    }
    rustfmt(out, &written)?;
    Ok(written)
}

/// The `.rs` files under `dir`, relative to it, sorted.
pub fn rust_files(dir: &Path) -> Result<Vec<String>, Error> {
    // Already sorted: the paths share the `dir` prefix.
    model::files_with_extension(dir, "rs")?
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(dir).map_err(|e| Error(e.to_string()))?;
            Ok(rel.to_string_lossy().replace('\\', "/"))
        })
        .collect()
}

fn rustfmt(dir: &Path, files: &[String]) -> Result<(), Error> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let status = std::process::Command::new(rustfmt)
        .args(["--edition", "2024", "--config-path"])
        .arg(model::workspace_root().join("rustfmt.toml"))
        .args(files.iter().map(|f| dir.join(f)))
        .status()
        .map_err(|e| Error(format!("running rustfmt: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error(format!("rustfmt failed: {status}")))
    }
}
