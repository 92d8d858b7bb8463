//! The checked-in generated code is exactly what the generator writes from the model.

use std::path::Path;

#[test]
fn generated_code_matches_the_model() {
    let model = xtask::model_root();
    assert!(
        model.join(xtask::model::CORE_DIR).is_dir(),
        "semantic-conventions model missing at {} (set OTLP_SEMCONV_MODEL)",
        model.display()
    );
    let tmp = std::env::temp_dir().join(format!("otlp-semconv-regen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    xtask::generate(&model, &tmp).expect("generation failed");

    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/generated");
    let fresh_files = xtask::rust_files(&tmp).expect("listing fresh files");
    let old_files = xtask::rust_files(&checked_in).expect("listing checked-in files");
    assert_eq!(
        fresh_files, old_files,
        "generated file list differs; run `cargo run -p xtask -- semconv`"
    );
    let mut stale = Vec::new();
    for f in &fresh_files {
        let a = std::fs::read_to_string(tmp.join(f)).expect("reading fresh file");
        let b = std::fs::read_to_string(checked_in.join(f)).expect("reading checked-in file");
        if a != b {
            stale.push(f.clone());
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        stale.is_empty(),
        "stale generated files {stale:?}; run `cargo run -p xtask -- semconv`"
    );
}

#[test]
fn a_missing_model_is_an_error() {
    let missing = std::env::temp_dir().join("otlp-semconv-no-such-model");
    let err = xtask::model::load(&missing).expect_err("a missing model must fail");
    assert!(err.to_string().contains("not found"), "{err}");
}
