//! Metrics: instruments, aggregation, temporality, views and exemplars.
//!
//! **Not built yet: this module is empty.** The metrics SDK lands here, its instruments made
//! by the [`OtlpClient`](crate::OtlpClient) and exported through a metrics pipeline like the
//! other signals. Until then, metrics can be sent as ready-made requests with
//! [`Exporter::export`](crate::Exporter::export) or through a
//! [`Pipeline`](crate::pipeline::Pipeline) with a
//! [`MetricEncoder`](crate::pipeline::MetricEncoder).

mod aggregate;
mod meter;
pub use meter::{
    Bound, Buildable, Counter, Gauge, Histogram, InstrumentBuilder, InstrumentValue,
    InvalidInstrument, Meter, Temporality, UpDownCounter,
};
// Work in progress (issue 14): the meter that uses it lands next.
#[cfg_attr(not(test), allow(dead_code))]
mod instrument;
// Work in progress (issue 14): the instruments that use it land next.
#[cfg_attr(not(test), allow(dead_code))]
mod series;
// Work in progress (issue 14): the instruments that use it land next.
#[cfg_attr(not(test), allow(dead_code))]
mod validate;
// Work in progress (issue 14): instrument creation resolves views and records exemplars next.
#[cfg_attr(not(test), allow(dead_code))]
mod exemplar;
#[cfg_attr(not(test), allow(dead_code))]
mod view;
pub use exemplar::ExemplarFilter;
pub use view::{Aggregation, InstrumentKind, View, ViewError};
