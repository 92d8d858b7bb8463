//! The SDK's own metrics, exported on a timer ([`ClientConfig::with_self_metrics`]).
//!
//! A thread of its own wakes every interval, snapshots the client's pipelines' [`Stats`] and
//! enqueues them, as the `otel.sdk.*` metrics of [`Stats::to_otlp_metrics`], into a metrics
//! [`Pipeline`] of its own: the pipelines described never carry their own description, so
//! there is no feedback loop. Each of the client's signals, once its pipeline started, is one
//! processor component: `batching_span_processor` for traces, `batching_log_processor` for
//! logs; for each signal the
//! client's exporter is one exporter component (`otlp_grpc_span_exporter`,
//! `otlp_http_log_exporter`, ...) whose metrics sum that signal's pipelines'. Component names are `<type>/<n>`, `n` counting the components of that
//! type made in the process.
//!
//! [`ClientConfig::with_self_metrics`]: crate::ClientConfig::with_self_metrics

use super::{ClientInner, OtlpClient};
use crate::clock::now_unix_nanos;
use crate::pipeline::{AdaptiveBatchConfig, MetricEncoder, Pipeline, Stats};
use crate::{Error, Exporter, Protocol, Signal};
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::metrics::{Metric, MetricData};
use otlp_proto::resource::Resource;
use otlp_semconv::attribute::{OTEL_COMPONENT_NAME, OTEL_COMPONENT_TYPE, otel_component_type};
use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

/// The environment variable giving the interval in milliseconds.
pub(super) const ENV: &str = "OTLP_SELF_METRICS_INTERVAL";

/// The longest the metrics pipeline holds a batch: the snapshots leave soon after they are
/// taken.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// `OTLP_SELF_METRICS_INTERVAL` in milliseconds: unset, empty or `0` is off.
pub(super) fn interval_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, Error> {
    let Some(raw) = lookup(ENV) else {
        return Ok(None);
    };
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match value.parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(ms) => Ok(Some(Duration::from_millis(ms))),
        Err(_) => Err(Error::env(
            ENV,
            &raw,
            "expected the interval between exports of the SDK's own metrics, in whole \
             milliseconds (0 or unset: off)",
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

/// The self-metrics of one client: the pipeline they go through, the timer thread's stop
/// signal, and the names of the components described.
pub(super) struct SelfMetrics {
    pipeline: Pipeline<Metric>,
    interval: Duration,
    start_time_unix_nano: u64,
    exporter: Exporter,
    /// Per signal: the names of its batching processors (one per pipeline, in order) and of
    /// its exporter component, made when first described.
    names: Mutex<HashMap<Signal, Names>>,
    /// Dropping the sender wakes the timer thread and stops it.
    stop: Mutex<Option<mpsc::Sender<()>>>,
    wake: Mutex<Option<mpsc::Receiver<()>>>,
}

impl SelfMetrics {
    pub(super) fn new(
        exporter: &Exporter,
        resource: &Resource,
        traces_pipeline: &AdaptiveBatchConfig,
        interval: Duration,
    ) -> Result<SelfMetrics, Error> {
        let scope = InstrumentationScope {
            name: "otlp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..InstrumentationScope::default()
        };
        let config = AdaptiveBatchConfig::default()
            .with_scheduled_delay(interval.min(MAX_DELAY))
            .with_export_timeout(traces_pipeline.export_timeout());
        let pipeline = Pipeline::new(
            exporter.clone(),
            MetricEncoder::new(Some(resource.clone()), Some(scope)),
            config,
        )?;
        let (stop, wake) = mpsc::channel();
        Ok(SelfMetrics {
            pipeline,
            interval,
            start_time_unix_nano: now_unix_nanos(),
            exporter: exporter.clone(),
            names: Mutex::new(HashMap::new()),
            stop: Mutex::new(Some(stop)),
            wake: Mutex::new(Some(wake)),
        })
    }

    /// Starts the timer thread. It holds the client weakly: once the client is dropped, or
    /// shut down, it stops.
    pub(super) fn start(&self, client: Weak<ClientInner>) -> Result<(), Error> {
        let Some(wake) = self
            .wake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        let interval = self.interval;
        let _ = crate::thread::spawn("otlp-self-metrics".to_owned(), move || {
            while let Err(RecvTimeoutError::Timeout) = wake.recv_timeout(interval) {
                let Some(inner) = client.upgrade() else {
                    return;
                };
                let client = OtlpClient { inner };
                if let Some(m) = &client.inner.self_metrics {
                    m.report(&client);
                }
            }
        })?;
        Ok(())
    }

    /// Enqueues one snapshot of `client`'s pipelines.
    pub(super) fn report(&self, client: &OtlpClient) {
        for metric in self.snapshot(client) {
            let _ = self.pipeline.enqueue(metric);
        }
    }

    /// The metrics describing `client`'s pipelines and exporter now: each signal's pipeline
    /// once it has started.
    pub(super) fn snapshot(&self, client: &OtlpClient) -> Vec<Metric> {
        let now = now_unix_nanos();
        let mut out: Vec<Metric> = Vec::new();
        for c in client.components().iter().filter(|c| c.is_started()) {
            self.describe(&mut out, c.signal(), &[c.stats()], c.queue_capacity(), now);
        }
        out
    }

    /// Adds the processor metrics of each of `signal`'s pipelines (`stats`, in order), and the
    /// exporter metrics summed over them.
    fn describe(
        &self,
        out: &mut Vec<Metric>,
        signal: Signal,
        stats: &[Stats],
        capacity: usize,
        now: u64,
    ) {
        let Some((processor_type, exporter_type)) = component_types(signal, &self.exporter) else {
            return;
        };
        let names = {
            let mut all = self.names.lock().unwrap_or_else(PoisonError::into_inner);
            let names = all.entry(signal).or_insert_with(|| Names {
                processors: Vec::new(),
                exporter: component_name(exporter_type),
            });
            while names.processors.len() < stats.len() {
                names.processors.push(component_name(processor_type));
            }
            names.clone()
        };
        let mut total = Stats::new(signal, 0);
        for (stats, name) in stats.iter().zip(&names.processors) {
            total.add(stats);
            let metrics = stats.to_otlp_metrics(capacity, self.start_time_unix_nano, now);
            for metric in metrics
                .into_iter()
                .filter(|m| m.name.as_str().starts_with("otel.sdk.processor."))
            {
                merge_into(out, label(metric, None, name));
            }
        }
        let metrics = total.to_otlp_metrics(capacity, self.start_time_unix_nano, now);
        for metric in metrics
            .into_iter()
            .filter(|m| m.name.as_str().starts_with("otel.sdk.exporter."))
        {
            merge_into(out, label(metric, Some(exporter_type), &names.exporter));
        }
    }

    /// Stops the timer, enqueues a last snapshot and shuts the metrics pipeline down within
    /// `timeout`.
    pub(super) async fn shutdown(
        &self,
        client: &OtlpClient,
        timeout: Duration,
    ) -> Result<(), Error> {
        let _ = self
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.report(client);
        self.pipeline.shutdown(timeout).await
    }
}

/// The names of one signal's components.
#[derive(Clone)]
struct Names {
    processors: Vec<String>,
    exporter: String,
}

/// The semantic-convention component types of `signal`'s batching processor and exporter.
fn component_types(signal: Signal, exporter: &Exporter) -> Option<(&'static str, &'static str)> {
    use otel_component_type as t;
    let protocol = exporter.protocol(signal);
    Some(match signal {
        Signal::Traces => (
            t::BATCHING_SPAN_PROCESSOR,
            match protocol {
                Protocol::Grpc => t::OTLP_GRPC_SPAN_EXPORTER,
                Protocol::HttpProtobuf => t::OTLP_HTTP_SPAN_EXPORTER,
                Protocol::HttpJson => t::OTLP_HTTP_JSON_SPAN_EXPORTER,
            },
        ),
        Signal::Logs => (
            t::BATCHING_LOG_PROCESSOR,
            match protocol {
                Protocol::Grpc => t::OTLP_GRPC_LOG_EXPORTER,
                Protocol::HttpProtobuf => t::OTLP_HTTP_LOG_EXPORTER,
                Protocol::HttpJson => t::OTLP_HTTP_JSON_LOG_EXPORTER,
            },
        ),
        _ => return None,
    })
}

/// Gives every data point of `metric` the component name, and the component type when given.
fn label(mut metric: Metric, component_type: Option<&'static str>, name: &str) -> Metric {
    if let Some(MetricData::Sum(sum)) = &mut metric.data {
        for point in &mut sum.data_points {
            if let Some(t) = component_type {
                point
                    .attributes
                    .retain(|kv| kv.key.as_str() != OTEL_COMPONENT_TYPE);
                point.attributes.push(KeyValue::new(OTEL_COMPONENT_TYPE, t));
            }
            point
                .attributes
                .push(KeyValue::new(OTEL_COMPONENT_NAME, name.to_owned()));
        }
    }
    metric
}

/// Adds `metric` to `out`, joining its data points to those of a metric with the same name.
fn merge_into(out: &mut Vec<Metric>, metric: Metric) {
    let existing = out.iter_mut().find(|m| m.name == metric.name);
    match (existing, metric.data) {
        (Some(m), Some(MetricData::Sum(sum))) => {
            if let Some(MetricData::Sum(into)) = &mut m.data {
                into.data_points.extend(sum.data_points);
            }
        }
        (_, data) => out.push(Metric { data, ..metric }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: &str) -> Result<Option<Duration>, Error> {
        let value = value.to_owned();
        interval_from_env(move |name| (name == ENV).then(|| value.clone()))
    }

    #[test]
    fn interval_is_read_in_milliseconds() {
        assert_eq!(interval_from_env(|_| None).expect("unset"), None);
        assert_eq!(from(" ").expect("empty"), None);
        assert_eq!(from("0").expect("zero"), None);
        assert_eq!(from("250").expect("ms"), Some(Duration::from_millis(250)));
        for bad in ["1s", "-5", "1.5", "ten"] {
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
