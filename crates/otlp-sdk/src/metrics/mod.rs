//! Metrics: instruments, aggregation, temporality, and their export through the client.
//!
//! A [`Meter`] comes from [`OtlpClient::meter`](crate::OtlpClient::meter) (one per
//! instrumentation scope) and makes instruments:
//!
//! | instrument | records | exported as |
//! |---|---|---|
//! | [`Counter`] (`u64`, `f64`) | increments | a monotonic sum |
//! | [`UpDownCounter`] (`i64`, `f64`) | increments and decrements | a sum |
//! | [`Histogram`] (`u64`, `f64`) | values | an explicit-bucket histogram |
//! | [`Gauge`] (`i64`, `u64`, `f64`) | the current value | a gauge |
//! | [`ObservableCounter`], [`ObservableUpDownCounter`], [`ObservableGauge`] | what a callback reports at each collection | a sum or a gauge |
//!
//! ```
//! # async fn demo(client: otlp::OtlpClient) {
//! use otlp::metrics::KeyValue;
//! let meter = client.meter("checkout");
//! let requests = meter.u64_counter("http.server.requests").with_unit("{request}").build();
//! requests.add(1, &[KeyValue::new("http.route", "/cart")]);
//!
//! // A series recorded often: bind it once, then each add looks nothing up.
//! let ok = requests.bind(&[KeyValue::new("http.route", "/cart"), KeyValue::new("ok", true)]);
//! ok.record(1);
//! # }
//! ```
//!
//! Attributes are given in any order; of a repeated key the last value counts. Each instrument
//! keeps at most [`MetricsConfig::with_cardinality_limit`] series (2000 by default); further
//! attribute sets go to one series marked `otel.metric.overflow = true`.
//!
//! A periodic reader collects every meter and exports through the client's transport every
//! `OTEL_METRIC_EXPORT_INTERVAL` (60 s); [`OtlpClient::force_flush`](crate::OtlpClient::force_flush)
//! and [`OtlpClient::shutdown`](crate::OtlpClient::shutdown) collect and export a last time;
//! [`OtlpClient::collect_metrics`](crate::OtlpClient::collect_metrics) reads them on demand.
//! Temporality is chosen per kind of instrument ([`TemporalityPreference`],
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).

mod aggregate;
mod config;
mod export;
mod instrument;
mod meter;
mod observable;
mod provider;
// `len` serves the tests until eviction uses it.
mod exemplar;
#[cfg_attr(not(test), allow(dead_code))]
mod series;
mod stream;
mod synchronous;
mod validate;
mod view;

pub use exemplar::ExemplarFilter;
pub use view::{Aggregation, InstrumentKind, View, ViewError};

pub use crate::config::{HistogramAggregation, TemporalityPreference};
pub use config::{
    DEFAULT_CARDINALITY_LIMIT, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, EXEMPLAR_FILTER_ENV,
    INTERVAL_ENV, MetricsConfig, TIMEOUT_ENV, Temporality, temporality_of,
};
pub use meter::Meter;
pub use observable::{
    AsObservable, FromObservable, ObservableBuilder, ObservableCounter, ObservableGauge,
    ObservableUpDownCounter, ObservableValue, Observations, Observer, Registration,
};
pub use otlp_proto::common::KeyValue;
pub use provider::MeterBuilder;
pub(crate) use provider::Metrics;
pub use synchronous::{
    Bound, Buildable, Counter, Gauge, Histogram, InstrumentBuilder, InstrumentValue,
    InvalidInstrument, UpDownCounter,
};
pub use validate::valid_instrument_name;
