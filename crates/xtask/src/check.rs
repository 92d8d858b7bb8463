//! `cargo run -p xtask -- semconv --check`: the checks that need the semantic-conventions model.
//!
//! The model is not part of the repository, so these checks are not tests of `otlp-semconv`
//! (a clone of the project alone must pass its tests). The test command runs this check where
//! the model is present and reports it as not run where it is not. It verifies that:
//!
//! - the checked-in generated code is exactly what the generator writes from the model;
//! - the generated tables hold what the generator's model loader reads, with every attribute's
//!   deprecation, replacement and stability;
//! - the attribute and metric counts match a second, independent reading of the YAML text (so a
//!   bug in the loader cannot hide by appearing on both sides of the comparison).

use crate::model::{self, AttrType, Error};
use otlp_semconv::info::{AttributeType, Stability};
use otlp_semconv::registry;
use serde_yaml::Value;
use std::path::Path;

/// What a passing check covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Generated files compared.
    pub files: usize,
    /// Attributes in the generated table.
    pub attributes: usize,
    /// Metrics in the generated table.
    pub metrics: usize,
}

/// Runs every check against the model under `model_root` and the generated code checked in
/// at `generated`. The error lists every problem found, one per line.
pub fn check(model_root: &Path, generated: &Path) -> Result<Summary, Error> {
    let mut problems = Vec::new();
    let files = compare_generated(model_root, generated, &mut problems)?;
    let model = model::load(model_root)?;
    check_tables(&model, &mut problems);
    check_independent_count(model_root, &mut problems)?;
    if problems.is_empty() {
        Ok(Summary {
            files,
            attributes: registry::ATTRIBUTES.len(),
            metrics: registry::METRICS.len(),
        })
    } else {
        Err(Error(problems.join("\n")))
    }
}

/// Regenerates into a temporary directory and compares with `checked_in`, file by file.
fn compare_generated(
    model_root: &Path,
    checked_in: &Path,
    problems: &mut Vec<String>,
) -> Result<usize, Error> {
    let tmp = std::env::temp_dir().join(format!("otlp-semconv-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = crate::generate(model_root, &tmp).and_then(|_| {
        let stale = stale_files(&tmp, checked_in)?;
        Ok((crate::rust_files(&tmp)?.len(), stale))
    });
    let _ = std::fs::remove_dir_all(&tmp);
    let (count, stale) = result?;
    problems.extend(stale.into_iter().map(|f| {
        format!("generated file {f} differs from the model's output: run `cargo run -p xtask -- semconv`")
    }));
    Ok(count)
}

/// The files that differ between two generated trees, or are in only one of them.
pub fn stale_files(fresh: &Path, checked_in: &Path) -> Result<Vec<String>, Error> {
    let fresh_files = crate::rust_files(fresh)?;
    let old_files = crate::rust_files(checked_in)?;
    let mut stale: Vec<String> = fresh_files
        .iter()
        .filter(|f| !old_files.contains(f))
        .chain(old_files.iter().filter(|f| !fresh_files.contains(f)))
        .cloned()
        .collect();
    for f in fresh_files.iter().filter(|f| old_files.contains(f)) {
        let read = |dir: &Path| {
            std::fs::read_to_string(dir.join(f)).map_err(|e| Error(format!("reading {f}: {e}")))
        };
        if read(fresh)? != read(checked_in)? {
            stale.push(f.clone());
        }
    }
    stale.sort();
    Ok(stale)
}

/// The generated tables against the loader's model (everything, experimental included: the
/// generator's own crate is built here with its `experimental` feature).
fn check_tables(m: &model::Model, problems: &mut Vec<String>) {
    let mut expect = |what: &str, got: usize, want: usize| {
        if got != want {
            problems.push(format!("{what}: {got} generated, {want} in the model"));
        }
    };
    expect("attributes", registry::ATTRIBUTES.len(), m.attributes.len());
    let enums = m
        .attributes
        .iter()
        .filter(|a| matches!(a.ty, AttrType::Enum { .. }))
        .count();
    let generated_enums = registry::ATTRIBUTES
        .iter()
        .filter(|a| matches!(a.ty, AttributeType::StringEnum | AttributeType::IntEnum))
        .count();
    expect("enum attributes", generated_enums, enums);
    let members: usize = m
        .attributes
        .iter()
        .map(|a| match &a.ty {
            AttrType::Enum { members } => members.len(),
            AttrType::Plain(_) => 0,
        })
        .sum();
    expect("enum members", registry::ENUM_MEMBERS.len(), members);
    expect("metrics", registry::METRICS.len(), m.metrics.len());
    expect("events", registry::EVENTS.len(), m.events.len());
    expect("spans", registry::SPANS.len(), m.spans.len());
    expect("entities", registry::ENTITIES.len(), m.entities.len());
    for a in &m.attributes {
        let Some(info) = registry::ATTRIBUTES.iter().find(|i| i.key == a.id) else {
            problems.push(format!("attribute {} is missing from the table", a.id));
            continue;
        };
        let renamed = a.deprecated.as_ref().and_then(|d| d.renamed_to.as_deref());
        if info.renamed_to != renamed
            || info.deprecated.is_some() != a.deprecated.is_some()
            || (info.stability == Stability::Stable) != (a.stability == "stable")
        {
            problems.push(format!(
                "attribute {}: deprecation, replacement or stability differs from the model",
                a.id
            ));
        }
    }
}

/// Counts attributes and metrics straight from the YAML text and compares with the tables.
fn check_independent_count(model_root: &Path, problems: &mut Vec<String>) -> Result<(), Error> {
    let (mut attrs, mut metrics) = definitions(&model_root.join(model::CORE_DIR))?;
    // The GenAI registry's full definitions replace the core registry's stubs of the same name.
    let (genai_attrs, genai_metrics) = definitions(&model_root.join(model::GENAI_DIR))?;
    attrs.extend(genai_attrs);
    metrics.extend(genai_metrics);
    if attrs.len() < 500 || metrics.len() < 100 {
        problems.push(format!(
            "the model looks incomplete: {} attributes, {} metrics in the YAML text",
            attrs.len(),
            metrics.len()
        ));
    }
    if registry::ATTRIBUTES.len() != attrs.len() {
        problems.push(format!(
            "attributes: {} generated, {} defined in the YAML text",
            registry::ATTRIBUTES.len(),
            attrs.len()
        ));
    }
    if registry::METRICS.len() != metrics.len() {
        problems.push(format!(
            "metrics: {} generated, {} defined in the YAML text",
            registry::METRICS.len(),
            metrics.len()
        ));
    }
    for info in registry::ATTRIBUTES {
        if !attrs.contains(info.key) {
            problems.push(format!("attribute {} is not in the YAML text", info.key));
        }
    }
    Ok(())
}

type Names = std::collections::BTreeSet<String>;

/// The names of every attribute and metric defined (not referenced) under `root`, in both model
/// formats: `groups:` (registry attribute groups, metric groups) and `definition/2` (top-level
/// `attributes:` with `key:`, `metrics:` with `name:`).
pub fn definitions(root: &Path) -> Result<(Names, Names), Error> {
    let (mut attrs, mut metrics) = (Names::new(), Names::new());
    for file in model::yaml_files(root)? {
        let raw = std::fs::read_to_string(&file)
            .map_err(|e| Error(format!("reading {}: {e}", file.display())))?;
        let doc: Value = serde_yaml::from_str(&raw)
            .map_err(|e| Error(format!("parsing {}: {e}", file.display())))?;
        let names = |v: &Value, list: &str, key: &str| -> Vec<String> {
            v.get(list)
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|a| text(a, key))
                .collect()
        };
        for group in doc
            .get("groups")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let ty = text(group, "type").unwrap_or_default();
            let id = text(group, "id").unwrap_or_default();
            if ty == "attribute_group" && id.starts_with("registry.") {
                attrs.extend(names(group, "attributes", "id"));
            }
            if let Some(name) = text(group, "metric_name").filter(|_| ty == "metric") {
                metrics.insert(name);
            }
        }
        attrs.extend(names(&doc, "attributes", "key"));
        metrics.extend(names(&doc, "metrics", "name"));
    }
    Ok((attrs, metrics))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn both_yaml_formats_are_counted() {
        let dir = tmp("definitions");
        std::fs::write(
            dir.join("a.yaml"),
            "groups:\n  - id: registry.http\n    type: attribute_group\n    attributes:\n      - id: http.a\n      - id: http.b\n  - id: metric.x\n    type: metric\n    metric_name: x.duration\n  - id: span.y\n    type: span\n    attributes:\n      - ref: http.a\n",
        )
        .expect("write");
        std::fs::write(
            dir.join("b.yaml"),
            "attributes:\n  - key: db.c\nmetrics:\n  - name: db.ops\n",
        )
        .expect("write");
        let (attrs, metrics) = definitions(&dir).expect("reads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            attrs.into_iter().collect::<Vec<_>>(),
            ["db.c", "http.a", "http.b"],
            "references are not definitions"
        );
        assert_eq!(
            metrics.into_iter().collect::<Vec<_>>(),
            ["db.ops", "x.duration"]
        );
    }

    #[test]
    fn stale_missing_and_extra_files_are_found() {
        let (fresh, old) = (tmp("fresh"), tmp("old"));
        for (dir, files) in [
            (
                &fresh,
                [("same.rs", "x"), ("changed.rs", "new"), ("added.rs", "a")],
            ),
            (
                &old,
                [("same.rs", "x"), ("changed.rs", "old"), ("removed.rs", "r")],
            ),
        ] {
            for (name, text) in files {
                std::fs::write(dir.join(name), text).expect("write");
            }
        }
        let stale = stale_files(&fresh, &old).expect("compares");
        let _ = (
            std::fs::remove_dir_all(&fresh),
            std::fs::remove_dir_all(&old),
        );
        assert_eq!(stale, ["added.rs", "changed.rs", "removed.rs"]);
    }

    #[test]
    fn a_missing_model_is_an_error_naming_the_path() {
        let missing = std::env::temp_dir().join("otlp-semconv-no-such-model");
        let err = check(&missing, &crate::default_out_dir()).expect_err("must fail");
        assert!(err.to_string().contains("not found"), "{err}");
        assert!(
            err.to_string().contains("otlp-semconv-no-such-model"),
            "{err}"
        );
    }
}
