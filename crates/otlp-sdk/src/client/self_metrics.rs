//! The SDK's own metrics ([`ClientConfig::with_self_metrics`]): observable instruments of the
//! meter `otlp`, read at each collection of the client's metrics, so they are exported by the
//! same reader, at the same interval and through the same pipeline as the application's.
//!
//! They describe the traces and logs pipelines, never the metrics one, so that describing
//! cannot feed itself. The profiles pipeline is registered like every component but has no
//! `otel.sdk.*` conventions to report under: its counts are
//! [`OtlpClient::profiles_stats`](crate::OtlpClient::profiles_stats). The values and names are those of [`Stats::to_otlp_metrics`] (the
//! `otel.sdk.*` semantic conventions); each signal, once its pipeline started, is one
//! processor component (`batching_span_processor`, `batching_log_processor`) and one exporter
//! component (`otlp_grpc_span_exporter`, `otlp_http_log_exporter`, ...), named `<type>/<n>`,
//! `n` counting the components of that type made in the process.
//!
//! [`ClientConfig::with_self_metrics`]: crate::ClientConfig::with_self_metrics
//! [`Stats::to_otlp_metrics`]: crate::pipeline::Stats::to_otlp_metrics

use crate::hub::Component;
use crate::metrics::{Meter, ObservableCounter, ObservableUpDownCounter, Observations};
use crate::pipeline::Stats;
use crate::{Error, Exporter, Protocol, Signal};
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{MetricData, NumberValue};
use otlp_semconv::attribute::{OTEL_COMPONENT_NAME, OTEL_COMPONENT_TYPE, otel_component_type};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The environment variable turning them on.
pub(super) const ENV: &str = "OTLP_SELF_METRICS";

/// The signals described.
const DESCRIBED: [Signal; 2] = [Signal::Traces, Signal::Logs];

/// `OTLP_SELF_METRICS`: `true`/`1` on, `false`/`0`/unset/empty off.
pub(super) fn enabled_from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<bool, Error> {
    let Some(raw) = lookup(ENV) else {
        return Ok(false);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" => Ok(false),
        "true" | "1" => Ok(true),
        _ => Err(Error::env(
            ENV,
            &raw,
            "expected `true` or `false` (whether to export the SDK's own metrics)",
        )),
    }
}

/// `<component_type>/<n>`, `n` unique per type in the process.
fn component_name(component_type: &str) -> String {
    static COUNTERS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
    let mut counters = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
    let next = counters
        .get_or_insert_with(HashMap::new)
        .entry(component_type.to_owned())
        .or_insert(0);
    let name = format!("{component_type}/{next}");
    *next += 1;
    name
}

/// An instrument of one `otel.sdk.*` metric.
enum Instrument {
    Counter(ObservableCounter<u64>),
    UpDown(ObservableUpDownCounter<i64>),
}

/// The components of one signal, named once.
struct Described {
    component: Arc<dyn Component>,
    processor: (&'static str, String),
    exporter: (&'static str, String),
}

/// Makes the `otel.sdk.*` instruments in `meter` and the callback that reads `components`
/// (the client's traces and logs) into them.
pub(super) fn register(meter: &Meter, components: &[Arc<dyn Component>], exporter: &Exporter) {
    let mut instruments: HashMap<String, Instrument> = HashMap::new();
    for signal in DESCRIBED {
        for metric in Stats::new(signal, 0).to_otlp_metrics(0, 0, 0) {
            let monotonic = matches!(&metric.data, Some(MetricData::Sum(s)) if s.is_monotonic);
            let instrument = if monotonic {
                Instrument::Counter(
                    meter
                        .u64_observable_counter(metric.name.clone())
                        .with_unit(metric.unit.clone())
                        .build(),
                )
            } else {
                Instrument::UpDown(
                    meter
                        .i64_observable_up_down_counter(metric.name.clone())
                        .with_unit(metric.unit.clone())
                        .build(),
                )
            };
            instruments.insert(metric.name.to_string(), instrument);
        }
    }
    let described: Vec<Described> = components
        .iter()
        .filter_map(|c| {
            let (processor, exporter) = component_types(c.signal(), exporter)?;
            Some(Described {
                component: c.clone(),
                processor: (processor, component_name(processor)),
                exporter: (exporter, component_name(exporter)),
            })
        })
        .collect();
    // Kept for as long as the client: nothing unregisters it.
    let _ = meter.register_callback(move |o| {
        for d in described.iter().filter(|d| d.component.is_started()) {
            observe(o, &instruments, d);
        }
    });
}

/// Reports one signal's stats, each point labelled with its component.
fn observe(o: &Observations<'_>, instruments: &HashMap<String, Instrument>, d: &Described) {
    let c = &d.component;
    for metric in c.stats().to_otlp_metrics(c.queue_capacity(), 0, 0) {
        let Some(MetricData::Sum(sum)) = &metric.data else {
            continue;
        };
        let Some(instrument) = instruments.get(metric.name.as_str()) else {
            continue;
        };
        let (component_type, name) = if metric.name.as_str().starts_with("otel.sdk.exporter.") {
            &d.exporter
        } else {
            &d.processor
        };
        for point in &sum.data_points {
            let Some(NumberValue::AsInt(value)) = point.value else {
                continue;
            };
            let mut attributes: Vec<KeyValue> = point
                .attributes
                .iter()
                .filter(|kv| kv.key.as_str() != OTEL_COMPONENT_TYPE)
                .cloned()
                .collect();
            attributes.push(KeyValue::new(OTEL_COMPONENT_TYPE, *component_type));
            attributes.push(KeyValue::new(OTEL_COMPONENT_NAME, name.clone()));
            match instrument {
                Instrument::Counter(i) => o.observe(i, value.max(0) as u64, &attributes),
                Instrument::UpDown(i) => o.observe(i, value, &attributes),
            }
        }
    }
}

/// The semantic-convention component types of `signal`'s batching processor and exporter.
fn component_types(signal: Signal, exporter: &Exporter) -> Option<(&'static str, &'static str)> {
    use otel_component_type as t;
    let protocol = exporter.protocol(signal);
    Some(match signal {
        Signal::Traces => (
            t::BATCHING_SPAN_PROCESSOR,
            match protocol {
                // No convention names an OTAP exporter yet: it is gRPC.
                Protocol::Grpc | Protocol::Otap => t::OTLP_GRPC_SPAN_EXPORTER,
                Protocol::HttpProtobuf => t::OTLP_HTTP_SPAN_EXPORTER,
                Protocol::HttpJson => t::OTLP_HTTP_JSON_SPAN_EXPORTER,
            },
        ),
        Signal::Logs => (
            t::BATCHING_LOG_PROCESSOR,
            match protocol {
                Protocol::Grpc | Protocol::Otap => t::OTLP_GRPC_LOG_EXPORTER,
                Protocol::HttpProtobuf => t::OTLP_HTTP_LOG_EXPORTER,
                Protocol::HttpJson => t::OTLP_HTTP_JSON_LOG_EXPORTER,
            },
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: &str) -> Result<bool, Error> {
        let value = value.to_owned();
        enabled_from_env(move |name| (name == ENV).then(|| value.clone()))
    }

    #[test]
    fn the_variable_turns_them_on_or_is_named_when_malformed() {
        assert!(!enabled_from_env(|_| None).expect("unset"));
        assert!(!from(" ").expect("empty"));
        assert!(!from("false").expect("false"));
        assert!(from("TRUE").expect("true"));
        assert!(from("1").expect("1"));
        for bad in ["yes", "250", "on"] {
            let e = from(bad).expect_err(bad);
            assert!(e.is_config(), "{e}");
            assert!(e.to_string().contains(ENV), "{e}");
        }
    }

    #[test]
    fn component_names_count_per_type() {
        let a = component_name("test_component_a");
        let b = component_name("test_component_a");
        let c = component_name("test_component_b");
        assert_eq!(
            (a.as_str(), b.as_str()),
            ("test_component_a/0", "test_component_a/1")
        );
        assert_eq!(c, "test_component_b/0");
    }
}
