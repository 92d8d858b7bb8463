//! Events that record measurements: fields named `monotonic_counter.<name>`, `counter.<name>`
//! and `histogram.<name>` record their value into the instrument `<name>`, with the event's
//! other fields as the measurement's attributes (see "Events as measurements" in the crate
//! docs).

use crate::fields::int_or_string;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_sdk::metrics::{Counter, Histogram, Meter, UpDownCounter};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Metadata};

/// The prefix of fields adding to a monotonic counter.
pub(crate) const MONOTONIC_COUNTER: &str = "monotonic_counter.";
/// The prefix of fields adding to an up-down counter.
pub(crate) const COUNTER: &str = "counter.";
/// The prefix of fields recording into a histogram.
pub(crate) const HISTOGRAM: &str = "histogram.";

/// Which instrument a metric field records into, by prefix and value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    CounterU64,
    CounterF64,
    UpDownI64,
    UpDownF64,
    HistogramU64,
    HistogramF64,
}

/// A metric field's value, already matched to its instrument kind.
#[derive(Clone, Copy)]
enum Value {
    U64(u64),
    I64(i64),
    F64(f64),
}

enum Instrument {
    CounterU64(Counter<u64>),
    CounterF64(Counter<f64>),
    UpDownI64(UpDownCounter<i64>),
    UpDownF64(UpDownCounter<f64>),
    HistogramU64(Histogram<u64>),
    HistogramF64(Histogram<f64>),
}

impl Instrument {
    fn new(meter: &Meter, kind: Kind, name: &'static str) -> Instrument {
        // An invalid name makes an instrument that records nothing (the SDK's rule for
        // instruments): the event is not dropped for it.
        match kind {
            Kind::CounterU64 => Instrument::CounterU64(meter.u64_counter(name).build()),
            Kind::CounterF64 => Instrument::CounterF64(meter.f64_counter(name).build()),
            Kind::UpDownI64 => Instrument::UpDownI64(meter.i64_up_down_counter(name).build()),
            Kind::UpDownF64 => Instrument::UpDownF64(meter.f64_up_down_counter(name).build()),
            Kind::HistogramU64 => Instrument::HistogramU64(meter.u64_histogram(name).build()),
            Kind::HistogramF64 => Instrument::HistogramF64(meter.f64_histogram(name).build()),
        }
    }

    fn record(&self, value: Value, attributes: &[KeyValue]) {
        match (self, value) {
            (Instrument::CounterU64(c), Value::U64(v)) => c.add(v, attributes),
            (Instrument::CounterF64(c), Value::F64(v)) => c.add(v, attributes),
            (Instrument::UpDownI64(c), Value::I64(v)) => c.add(v, attributes),
            (Instrument::UpDownF64(c), Value::F64(v)) => c.add(v, attributes),
            (Instrument::HistogramU64(h), Value::U64(v)) => h.record(v, attributes),
            (Instrument::HistogramF64(h), Value::F64(v)) => h.record(v, attributes),
            // `Visit` pairs kinds and values; a mismatch records nothing.
            _ => {}
        }
    }
}

/// The instruments events record into: one per field name and value type, made on first use.
#[derive(Clone)]
pub(crate) struct EventMetrics {
    meter: Meter,
    /// Keyed by the whole field name (`&'static`, from the callsite): looking up allocates
    /// nothing.
    instruments: Arc<RwLock<HashMap<(&'static str, Kind), Instrument>>>,
}

impl fmt::Debug for EventMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventMetrics")
            .field("meter", &self.meter)
            .finish_non_exhaustive()
    }
}

/// Whether an event's callsite declares a metric field.
pub(crate) fn has_metric_fields(metadata: &Metadata<'_>) -> bool {
    metadata
        .fields()
        .iter()
        .any(|f| metric_name(f.name()).is_some())
}

/// The instrument name of a metric field, and which prefix it has.
fn metric_name(field: &'static str) -> Option<(&'static str, &'static str)> {
    [MONOTONIC_COUNTER, COUNTER, HISTOGRAM]
        .into_iter()
        .find_map(|prefix| Some((prefix, field.strip_prefix(prefix)?)))
        .filter(|(_, name)| !name.is_empty())
}

/// An event's fields, split: metric values, and the others as attributes.
#[derive(Default)]
struct Fields {
    metrics: Vec<(&'static str, Kind, Value)>,
    attributes: Vec<KeyValue>,
}

thread_local! {
    /// Reused from event to event: no allocation once grown (but for field values that need
    /// one, long strings and `Debug` ones).
    static FIELDS: RefCell<Fields> = RefCell::default();
}

impl EventMetrics {
    pub(crate) fn new(meter: Meter) -> EventMetrics {
        EventMetrics {
            meter,
            instruments: Arc::default(),
        }
    }

    /// Records the event's metric fields.
    pub(crate) fn record(&self, event: &Event<'_>) {
        let record = |fields: &mut Fields| {
            event.record(fields);
            for &(field, kind, value) in &fields.metrics {
                self.record_one(field, kind, value, &fields.attributes);
            }
            fields.metrics.clear();
            fields.attributes.clear();
        };
        // A measurement recorded from within another (an instrument's code emitting an
        // event) finds the buffer taken: it gets a buffer of its own.
        let reused = FIELDS
            .try_with(|fields| match fields.try_borrow_mut() {
                Ok(mut fields) => {
                    record(&mut fields);
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        if !reused {
            record(&mut Fields::default());
        }
    }

    fn record_one(&self, field: &'static str, kind: Kind, value: Value, attributes: &[KeyValue]) {
        {
            let instruments = self
                .instruments
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(instrument) = instruments.get(&(field, kind)) {
                instrument.record(value, attributes);
                return;
            }
        }
        let Some((_, name)) = metric_name(field) else {
            return;
        };
        let mut instruments = self
            .instruments
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        instruments
            .entry((field, kind))
            .or_insert_with(|| Instrument::new(&self.meter, kind, name))
            .record(value, attributes);
    }
}

impl Fields {
    /// Takes `value` for the metric field `field` if its type suits the field's prefix;
    /// returns whether `field` is a metric field (whose value, if unsuitable, is dropped).
    fn metric(&mut self, field: &Field, value: Value) -> bool {
        let Some((prefix, _)) = metric_name(field.name()) else {
            return false;
        };
        let kind = match (prefix, value) {
            (MONOTONIC_COUNTER, Value::U64(_)) => Some((Kind::CounterU64, value)),
            (MONOTONIC_COUNTER, Value::I64(v)) => u64::try_from(v)
                .ok()
                .map(|v| (Kind::CounterU64, Value::U64(v))),
            (MONOTONIC_COUNTER, Value::F64(_)) => Some((Kind::CounterF64, value)),
            (COUNTER, Value::I64(_)) => Some((Kind::UpDownI64, value)),
            (COUNTER, Value::U64(v)) => i64::try_from(v)
                .ok()
                .map(|v| (Kind::UpDownI64, Value::I64(v))),
            (COUNTER, Value::F64(_)) => Some((Kind::UpDownF64, value)),
            (HISTOGRAM, Value::U64(_)) => Some((Kind::HistogramU64, value)),
            (HISTOGRAM, Value::I64(v)) => u64::try_from(v)
                .ok()
                .map(|v| (Kind::HistogramU64, Value::U64(v))),
            (HISTOGRAM, Value::F64(_)) => Some((Kind::HistogramF64, value)),
            _ => None,
        };
        if let Some((kind, value)) = kind {
            self.metrics.push((field.name(), kind, value));
        }
        true
    }

    fn attribute(&mut self, field: &Field, value: AnyValue) {
        // Neither the message nor a metric field of the wrong type is an attribute.
        if field.name() != "message" && metric_name(field.name()).is_none() {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.metric(field, Value::U64(value)) {
            self.attribute(field, int_or_string(value));
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.metric(field, Value::I64(value)) {
            self.attribute(field, value.into());
        }
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.metric(field, Value::F64(value)) {
            self.attribute(field, value.into());
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.record_u64(field, v),
            Err(_) => self.attribute(field, int_or_string(value)),
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.record_i64(field, v),
            Err(_) => self.attribute(field, int_or_string(value)),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attribute(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        // Short strings are copied inline: no allocation.
        self.attribute(field, otlp_proto::Str::copy_from(value).into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.attribute(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() != "message" && metric_name(field.name()).is_none() {
            self.attribute(field, format!("{value:?}").into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_field_names() {
        assert_eq!(
            metric_name("monotonic_counter.requests"),
            Some((MONOTONIC_COUNTER, "requests"))
        );
        assert_eq!(metric_name("counter.queue"), Some((COUNTER, "queue")));
        assert_eq!(
            metric_name("histogram.latency.ms"),
            Some((HISTOGRAM, "latency.ms"))
        );
        assert_eq!(metric_name("counter."), None);
        assert_eq!(metric_name("counterx"), None);
        assert_eq!(metric_name("route"), None);
    }
}
