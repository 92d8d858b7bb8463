//! OpenTelemetry semantic conventions as Rust constants: every attribute, enum value, metric,
//! event, span and entity of the semantic-conventions registry v1.44.0, with the GenAI, OpenAI and
//! MCP conventions taken from v1.41.0 (their last full definitions), plus typed helpers for the
//! GenAI, Kafka and Kubernetes attributes.
//!
//! # Layout
//!
//! | module | holds | example |
//! |---|---|---|
//! | [`attribute`] | one `&str` constant per attribute key, one module of values per enum attribute | `attribute::HTTP_REQUEST_METHOD`, `attribute::http_request_method::GET` |
//! | [`metric`] | one constant per metric name; docs give instrument and unit | `metric::HTTP_SERVER_REQUEST_DURATION` |
//! | [`event`] | event names | `event::EXCEPTION` |
//! | [`span`] | span definitions (type, kind, attributes), as documented constants | `span::HTTP_CLIENT` |
//! | [`entity`] | entity types with their attributes | `entity::K8S_POD` |
//! | [`registry`] | tables of all of the above, with types, units, stability and deprecations | `registry::ATTRIBUTES` |
//! | [`helpers`] | typed builders that return [`otlp_proto::common::KeyValue`]s | [`helpers::K8sResource`] |
//!
//! Names are flat within each module: the constant for a key is the key upper-cased with `.`
//! and `-` turned into `_`, so `k8s.pod.name` is `attribute::K8S_POD_NAME`. A flat name can be
//! found by typing the key, needs one `use`, and reads like the key it stands for; the generated
//! sources are still split by namespace (one file per namespace) to keep them reviewable. Where a
//! deprecated key would map to the same name as its replacement (`feature_flag.provider_name` and
//! `feature_flag.provider.name`), the deprecated one gets a `_DEPRECATED` suffix.
//!
//! Every item's docs carry the model's brief and note, its type, examples and stability.
//! Deprecated items are `#[deprecated]`, with the replacement in the note (`Replaced by
//! `gen_ai.provider.name`.`).
//!
//! # Feature flags
//!
//! - **`experimental`** (off by default): the items whose stability is not `stable`
//!   (`development`, `release_candidate`, ...) and the helpers built on them (`helpers::GenAiSpan`,
//!   `helpers::KafkaMessage`). Without it only stable names exist, so code that builds without
//!   the feature uses only stable conventions.
//!
//! # Example
//!
//! ```
//! use otlp_proto::common::KeyValue;
//! use otlp_semconv::attribute::{self, http_request_method};
//!
//! let attrs = [
//!     KeyValue::new(attribute::HTTP_REQUEST_METHOD, http_request_method::GET),
//!     KeyValue::new(attribute::HTTP_RESPONSE_STATUS_CODE, 200_i64),
//! ];
//! assert_eq!(attrs[0].key.as_str(), "http.request.method");
//! assert_eq!(otlp_semconv::SCHEMA_URL, "https://opentelemetry.io/schemas/1.44.0");
//! ```
//!
//! # Regenerating
//!
//! The files under `src/generated` are written by `cargo run -p xtask -- semconv` from the YAML
//! model (`$OTLP_SEMCONV_MODEL`, by default `../shared/semconv` beside the workspace) and checked
//! in, so building and testing this crate needs no model. Where the model is present,
//! `cargo run -p xtask --features check -- semconv --check` regenerates them into a temporary
//! directory and fails on any difference, and compares the compiled tables with the model; the
//! project's test command runs it there and reports it as not run elsewhere.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The docs are the model's Markdown as written; clippy's doc-style lints are not for it.
#[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]
mod generated;
pub mod helpers;
pub mod info;

pub use generated::{attribute, entity, event, metric, registry, span};

/// The schema URL of the semantic conventions these constants come from.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.44.0";
