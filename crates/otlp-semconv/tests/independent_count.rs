//! Counts attribute and metric definitions straight from the YAML text, without the generator's
//! model loader, so that a bug in that loader cannot hide by appearing on both sides of the
//! comparison in `model.rs`.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("model directory {} must exist: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(path);
        }
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// name -> stability of every attribute and metric defined (not referenced) under `root`, in
/// both model formats: `groups:` (registry attribute groups, metric groups) and `definition/2`
/// (top-level `attributes:` with `key:`, `metrics:` with `name:`).
fn definitions(root: &Path) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut files = Vec::new();
    yaml_files(root, &mut files);
    let (mut attrs, mut metrics) = (BTreeMap::new(), BTreeMap::new());
    for file in files {
        let raw = std::fs::read_to_string(&file).expect("readable model file");
        let doc: Value = serde_yaml::from_str(&raw)
            .unwrap_or_else(|e| panic!("{} must parse: {e}", file.display()));
        let stability = |v: &Value| text(v, "stability").unwrap_or_else(|| "development".into());
        for group in doc
            .get("groups")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            let ty = text(group, "type").unwrap_or_default();
            let id = text(group, "id").unwrap_or_default();
            if ty == "attribute_group" && id.starts_with("registry.") {
                for a in group
                    .get("attributes")
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    if let Some(name) = text(a, "id") {
                        attrs.insert(name, stability(a));
                    }
                }
            }
            if let Some(name) = text(group, "metric_name").filter(|_| ty == "metric") {
                metrics.insert(name, stability(group));
            }
        }
        for a in doc
            .get("attributes")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(name) = text(a, "key") {
                attrs.insert(name, stability(a));
            }
        }
        for m in doc
            .get("metrics")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
        {
            if let Some(name) = text(m, "name") {
                metrics.insert(name, stability(m));
            }
        }
    }
    (attrs, metrics)
}

#[test]
fn attribute_and_metric_counts_match_the_yaml() {
    let root = xtask::model_root();
    let (mut attrs, mut metrics) = definitions(&root.join("v1.44.0/model"));
    // The GenAI registry's full definitions replace the main registry's stubs of the same name.
    let (genai_attrs, genai_metrics) = definitions(&root.join("genai-v1.41.0/model"));
    attrs.extend(genai_attrs);
    metrics.extend(genai_metrics);
    assert!(
        attrs.len() > 500 && metrics.len() > 100,
        "the model looks incomplete"
    );

    let visible = |s: &String| cfg!(feature = "experimental") || s == "stable";
    let want_attrs = attrs.values().filter(|s| visible(s)).count();
    let want_metrics = metrics.values().filter(|s| visible(s)).count();
    assert_eq!(otlp_semconv::registry::ATTRIBUTES.len(), want_attrs);
    assert_eq!(otlp_semconv::registry::METRICS.len(), want_metrics);
    for info in otlp_semconv::registry::ATTRIBUTES {
        assert!(
            attrs.contains_key(info.key),
            "{} is not in the model",
            info.key
        );
    }
}
