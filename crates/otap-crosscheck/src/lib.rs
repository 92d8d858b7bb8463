//! Cross-checks of the OTLP/Arrow codec against an independent implementation: the otel-arrow
//! project's own Rust codec (`otel-arrow-dfe-pdata`).
//!
//! Nothing here is for users: the crate holds only tests, kept apart because the peer builds
//! DataFusion, which the crates under test (`otlp-otap`, `otlp-receiver`) should not pay for in
//! their own builds, tests and benchmarks.
//!
//! - `tests/codec_traces_logs.rs`, `tests/codec_metrics.rs`: otel-arrow decodes what
//!   `otlp-otap`'s encoders write to the same requests, and `otlp-otap`'s decoders read what
//!   otel-arrow encodes;
//! - `tests/receiver.rs`: batches otel-arrow encodes, several per stream, reach a running
//!   `otlp-receiver`'s sink as the requests they encode;
//! - `tests/peer/mod.rs`: the peer's two directions for any signal, which all three use.
//!
//! `cargo test -p otap-crosscheck`

#![deny(missing_docs)]
