//! Loading the semantic-conventions YAML model into plain Rust values.
//!
//! Two file shapes are read: the classic one (a top-level `groups:` list whose entries have a
//! `type` of `attribute_group`, `metric`, `event`, `span` or `entity`) and weaver's
//! `file_format: definition/2` (top-level `attributes`, `attribute_groups`, `metrics`, `spans`,
//! `span_refinements`, `metric_refinements`). Metric refinements only narrow the attributes of a
//! metric defined elsewhere, so they add no metric; span refinements define a span of their own.

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The directory of the core registry, relative to the model root.
pub const CORE_DIR: &str = "v1.44.0/model";
/// The directory of the GenAI registry, relative to the model root.
pub const GENAI_DIR: &str = "genai-v1.41.0/model";
/// The sub-directories of [`GENAI_DIR`] that are read; they replace the core registry's stubs.
pub const GENAI_PARTS: &[&str] = &["gen-ai", "openai", "mcp"];

/// A failure to read the model.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Which registry an item comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `v1.44.0/model`.
    Core,
    /// `genai-v1.41.0/model`.
    GenAi,
}

/// How an item is deprecated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// `renamed`, `obsoleted`, `uncategorized`, or empty for the older string form.
    pub reason: String,
    /// The replacement's name, when the item was renamed.
    pub renamed_to: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

/// An enum member's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberValue {
    /// A string value.
    Str(String),
    /// An integer value.
    Int(i64),
}

/// One member of an enum attribute.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member id (`get`).
    pub id: String,
    /// Its value (`"GET"`).
    pub value: MemberValue,
    /// Short description.
    pub brief: String,
    /// Longer description.
    pub note: String,
    /// `stable`, `development`, ...
    pub stability: String,
    /// Deprecation, if any.
    pub deprecated: Option<Deprecation>,
}

/// The type of an attribute.
#[derive(Debug, Clone)]
pub enum AttrType {
    /// `string`, `int`, `double`, `boolean`, `any`, their arrays, and `template[...]` forms.
    Plain(String),
    /// An enum; its values are integers when every member's value is.
    Enum {
        /// The members, in model order.
        members: Vec<Member>,
    },
}

/// A registry attribute.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// The key (`http.request.method`).
    pub id: String,
    /// Its type.
    pub ty: AttrType,
    /// `stable`, `development`, `release_candidate`, ...
    pub stability: String,
    /// Short description.
    pub brief: String,
    /// Longer description.
    pub note: String,
    /// Examples, rendered as literals (`"GET"`, `3495`, `["a", "b"]`).
    pub examples: Vec<String>,
    /// Deprecation, if any.
    pub deprecated: Option<Deprecation>,
    /// Registry of origin.
    pub origin: Origin,
}

impl Attribute {
    /// Whether the values of this enum attribute are integers.
    pub fn is_int_enum(&self) -> bool {
        match &self.ty {
            AttrType::Enum { members } => {
                !members.is_empty()
                    && members
                        .iter()
                        .all(|m| matches!(m.value, MemberValue::Int(_)))
            }
            AttrType::Plain(_) => false,
        }
    }
}

/// A metric.
#[derive(Debug, Clone)]
pub struct Metric {
    /// `http.server.request.duration`.
    pub name: String,
    /// `counter`, `updowncounter`, `histogram`, `gauge`.
    pub instrument: String,
    /// UCUM unit.
    pub unit: String,
    /// Short description.
    pub brief: String,
    /// Longer description.
    pub note: String,
    /// Stability.
    pub stability: String,
    /// Deprecation, if any.
    pub deprecated: Option<Deprecation>,
    /// Registry of origin.
    pub origin: Origin,
}

/// An event, span or entity: a named group documented with the attributes it references.
#[derive(Debug, Clone)]
pub struct Group {
    /// Event name, span type (without the `span.` prefix) or entity type.
    pub name: String,
    /// Short description.
    pub brief: String,
    /// Longer description.
    pub note: String,
    /// Stability.
    pub stability: String,
    /// Deprecation, if any.
    pub deprecated: Option<Deprecation>,
    /// Span kind, for spans.
    pub span_kind: Option<String>,
    /// The attributes it references directly (`ref:`), in model order.
    pub attributes: Vec<String>,
    /// The groups it includes (`extends:`, `ref_group:`) or refines (`ref:` of a refinement).
    pub includes: Vec<String>,
    /// Registry of origin.
    pub origin: Origin,
}

/// The whole model, every list sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Registry attributes.
    pub attributes: Vec<Attribute>,
    /// Metrics.
    pub metrics: Vec<Metric>,
    /// Events.
    pub events: Vec<Group>,
    /// Spans.
    pub spans: Vec<Group>,
    /// Entities.
    pub entities: Vec<Group>,
}

#[derive(Default)]
struct Maps {
    attributes: BTreeMap<String, Attribute>,
    metrics: BTreeMap<String, Metric>,
    events: BTreeMap<String, Group>,
    spans: BTreeMap<String, Group>,
    entities: BTreeMap<String, Group>,
}

/// The model root used when none is given: `<workspace>/../shared/semconv`.
pub fn default_model_root() -> PathBuf {
    workspace_root().join("../shared/semconv")
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads the core registry and the GenAI registry under `root`; GenAI items replace core items of
/// the same name (the core registry keeps only deprecated stubs of them).
pub fn load(root: &Path) -> Result<Model, Error> {
    let core = root.join(CORE_DIR);
    if !core.is_dir() {
        return Err(Error(format!(
            "semantic-conventions model not found at {}",
            core.display()
        )));
    }
    let mut maps = Maps::default();
    for file in yaml_files(&core)? {
        read_file(&file, Origin::Core, &mut maps)?;
    }
    for part in GENAI_PARTS {
        let dir = root.join(GENAI_DIR).join(part);
        if !dir.is_dir() {
            return Err(Error(format!("GenAI model not found at {}", dir.display())));
        }
        for file in yaml_files(&dir)? {
            read_file(&file, Origin::GenAi, &mut maps)?;
        }
    }
    Ok(Model {
        attributes: maps.attributes.into_values().collect(),
        metrics: maps.metrics.into_values().collect(),
        events: maps.events.into_values().collect(),
        spans: maps.spans.into_values().collect(),
        entities: maps.entities.into_values().collect(),
    })
}

/// Every `.yaml` file under `dir`, recursively, sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    files_with_extension(dir, "yaml")
}

/// Every file under `dir` (recursively) whose extension is `ext`, sorted.
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).map_err(|e| Error(format!("reading {}: {e}", d.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|e| Error(format!("reading {}: {e}", d.display())))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_file(path: &Path, origin: Origin, maps: &mut Maps) -> Result<(), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error(format!("reading {}: {e}", path.display())))?;
    let doc: Value = serde_yaml::from_str(&text)
        .map_err(|e| Error(format!("parsing {}: {e}", path.display())))?;
    let ctx = |e: Error| Error(format!("{}: {}", path.display(), e.0));
    for g in seq(&doc, "groups") {
        read_group(g, origin, maps).map_err(ctx)?;
    }
    for a in seq(&doc, "attributes") {
        let attr = attribute(a, "key", origin).map_err(ctx)?;
        let _ = maps.attributes.insert(attr.id.clone(), attr);
    }
    for m in seq(&doc, "metrics") {
        let metric = metric(m, "name", origin).map_err(ctx)?;
        let _ = maps.metrics.insert(metric.name.clone(), metric);
    }
    for s in seq(&doc, "spans") {
        let name = req(s, "type").map_err(ctx)?;
        let _ = maps.spans.insert(name.clone(), group(s, name, origin));
    }
    for s in seq(&doc, "span_refinements") {
        let name = strip(&req(s, "id").map_err(ctx)?, "span.");
        let mut g = group(s, name.clone(), origin);
        g.includes.insert(0, text_of(s, "ref"));
        let _ = maps.spans.insert(name, g);
    }
    Ok(())
}

fn read_group(g: &Value, origin: Origin, maps: &mut Maps) -> Result<(), Error> {
    let id = req(g, "id")?;
    match text_of(g, "type").as_str() {
        "attribute_group" if id.starts_with("registry.") => {
            for a in seq(g, "attributes") {
                let attr = attribute(a, "id", origin)?;
                let _ = maps.attributes.insert(attr.id.clone(), attr);
            }
        }
        "metric" => {
            let m = metric(g, "metric_name", origin)?;
            let _ = maps.metrics.insert(m.name.clone(), m);
        }
        "event" => {
            let name = req(g, "name")?;
            let _ = maps.events.insert(name.clone(), group(g, name, origin));
        }
        "span" => {
            let name = strip(&id, "span.");
            let _ = maps.spans.insert(name.clone(), group(g, name, origin));
        }
        "entity" => {
            let name = req(g, "name")?;
            let _ = maps.entities.insert(name.clone(), group(g, name, origin));
        }
        _ => {}
    }
    Ok(())
}

fn attribute(a: &Value, key: &str, origin: Origin) -> Result<Attribute, Error> {
    let id = req(a, key)?;
    let ty = match a.get("type") {
        Some(Value::String(s)) => AttrType::Plain(s.clone()),
        Some(t @ Value::Mapping(_)) => {
            let mut members = Vec::new();
            for m in seq(t, "members") {
                let value = match m.get("value") {
                    Some(Value::String(s)) => MemberValue::Str(s.clone()),
                    Some(Value::Number(n)) => MemberValue::Int(
                        n.as_i64()
                            .ok_or_else(|| Error(format!("{id}: non-integer member value {n}")))?,
                    ),
                    other => return Err(Error(format!("{id}: bad member value {other:?}"))),
                };
                members.push(Member {
                    id: req(m, "id")?,
                    value,
                    brief: text_of(m, "brief"),
                    note: text_of(m, "note"),
                    stability: stability(m),
                    deprecated: deprecation(m.get("deprecated")),
                });
            }
            AttrType::Enum { members }
        }
        other => return Err(Error(format!("{id}: unsupported type {other:?}"))),
    };
    let examples = match a.get("examples") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().map(literal).collect(),
        Some(v) => vec![literal(v)],
    };
    Ok(Attribute {
        stability: stability(a),
        brief: text_of(a, "brief"),
        note: text_of(a, "note"),
        deprecated: deprecation(a.get("deprecated")),
        id,
        ty,
        examples,
        origin,
    })
}

fn metric(m: &Value, key: &str, origin: Origin) -> Result<Metric, Error> {
    Ok(Metric {
        name: req(m, key)?,
        instrument: req(m, "instrument")?,
        unit: text_of(m, "unit"),
        brief: text_of(m, "brief"),
        note: text_of(m, "note"),
        stability: stability(m),
        deprecated: deprecation(m.get("deprecated")),
        origin,
    })
}

fn group(g: &Value, name: String, origin: Origin) -> Group {
    let mut attributes = Vec::new();
    let mut includes = Vec::new();
    if let Some(e) = g.get("extends").and_then(Value::as_str) {
        includes.push(e.to_owned());
    }
    for a in seq(g, "attributes") {
        if let Some(r) = a.get("ref").and_then(Value::as_str) {
            attributes.push(r.to_owned());
        } else if let Some(r) = a.get("ref_group").and_then(Value::as_str) {
            includes.push(r.to_owned());
        }
    }
    Group {
        name,
        brief: text_of(g, "brief"),
        note: text_of(g, "note"),
        stability: stability(g),
        deprecated: deprecation(g.get("deprecated")),
        span_kind: g
            .get("span_kind")
            .or_else(|| g.get("kind"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        attributes,
        includes,
        origin,
    }
}

fn deprecation(v: Option<&Value>) -> Option<Deprecation> {
    match v? {
        Value::String(s) => Some(Deprecation {
            reason: String::new(),
            renamed_to: None,
            note: Some(s.trim().to_owned()),
        }),
        m @ Value::Mapping(_) => Some(Deprecation {
            reason: text_of(m, "reason"),
            renamed_to: m
                .get("renamed_to")
                .and_then(Value::as_str)
                .map(str::to_owned),
            note: Some(text_of(m, "note")).filter(|n| !n.is_empty()),
        }),
        _ => None,
    }
}

fn stability(v: &Value) -> String {
    Some(text_of(v, "stability"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "development".to_owned())
}

fn seq<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_sequence)
        .map_or(&[], Vec::as_slice)
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn req(v: &Value, key: &str) -> Result<String, Error> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error(format!("missing `{key}` in {v:?}")))
}

fn strip(s: &str, prefix: &str) -> String {
    s.strip_prefix(prefix).unwrap_or(s).to_owned()
}

/// Renders a YAML example value as a literal: strings quoted, arrays bracketed.
fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Sequence(items) => {
            let parts: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Null => "null".to_owned(),
        other => format!("{other:?}"),
    }
}
