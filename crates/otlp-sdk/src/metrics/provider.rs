//! The metrics side of a client ([`Metrics`]): its meters, the periodic reader that collects
//! them into the metrics pipeline, and the [`Component`] the client flushes and shuts down.
//!
//! Collection and export are apart: a collection reads every meter (callbacks, then
//! instruments; a recording thread waits at most for the swap of one series' cells) and
//! enqueues each metric, with its scope's index, into the client's metrics pipeline, whose
//! worker encodes and exports them like spans and log records (every protocol, compression,
//! retry, and the pipeline's accounting of items: here, metrics).

use super::config::Settings;
use super::export::{Collected, ScopedMetric, ScopedMetricEncoder};
use super::meter::Meter;
use crate::body::EncodedBody;
use crate::hub::{BoxFuture, Component, SignalHub};
use crate::pipeline::{AdaptiveBatchConfig, BatchEncoder, PersistentQueue, Pipeline, Stats};
use crate::scopes::Scopes;
use crate::{Error, Exporter, Signal};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::metrics::{ResourceMetrics, ScopeMetrics};
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Str};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// The longest the metrics pipeline holds a collection before exporting it: collections are
/// already batches, so they leave at once.
const MAX_DELAY: Duration = Duration::from_millis(200);

/// Metrics one collection may hold in the pipeline's queue.
const QUEUE: usize = 65_536;

/// The metrics side of a client.
pub(crate) struct Metrics {
    shared: Arc<Shared>,
}

struct Shared {
    settings: Arc<Settings>,
    scopes: Arc<Scopes>,
    resource: Resource,
    meters: Mutex<Vec<Meter>>,
    hub: Arc<SignalHub<ScopedMetric>>,
    /// One collection at a time, so that delta intervals follow each other.
    collecting: Mutex<()>,
    /// Dropping the sender stops the periodic reader; `None` before it starts and after
    /// shutdown.
    reader: Mutex<Reader>,
}

#[derive(Default)]
enum Reader {
    #[default]
    NotStarted,
    /// Held only to be dropped: that wakes the reader, which then stops.
    Running(#[allow(dead_code)] mpsc::Sender<()>),
    Stopped,
}

impl Metrics {
    /// The metrics side of a client exporting through `exporter` under `resource`.
    pub(crate) fn new(
        exporter: Exporter,
        resource: Resource,
        scopes: Arc<Scopes>,
        settings: Settings,
        persistent_queue: Option<PersistentQueue>,
    ) -> Self {
        let mut config = AdaptiveBatchConfig::default()
            .with_scheduled_delay(MAX_DELAY)
            .with_export_timeout(settings.timeout)
            .with_max_queue_size(QUEUE);
        if let Some(queue) = persistent_queue {
            config = config.with_persistent_queue(queue);
        }
        let encoder_scopes = scopes.clone();
        let encoder_resource = resource.clone();
        let start = Box::new(move |config: &AdaptiveBatchConfig| {
            let encoder =
                ScopedMetricEncoder::new(encoder_resource.clone(), encoder_scopes.clone());
            Pipeline::new(exporter.clone(), encoder, config.clone())
        });
        Metrics {
            shared: Arc::new(Shared {
                settings: Arc::new(settings),
                scopes,
                resource,
                meters: Mutex::new(Vec::new()),
                hub: Arc::new(SignalHub::new(Signal::Metrics, config, start)),
                collecting: Mutex::new(()),
                reader: Mutex::new(Reader::NotStarted),
            }),
        }
    }

    /// The component the client flushes, shuts down and describes.
    pub(crate) fn component(&self) -> Arc<dyn Component> {
        Arc::new(MetricsComponent(self.shared.clone()))
    }

    /// The meter of `scope` and `schema_url`: the same one for the same scope. The first meter
    /// starts the periodic reader.
    pub(crate) fn meter(&self, scope: InstrumentationScope, schema_url: Str) -> Meter {
        let shared = &self.shared;
        let mut meters = shared.meters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = meters
            .iter()
            .find(|m| *m.scope() == scope && *m.schema_url() == schema_url)
        {
            return m.clone();
        }
        let index = shared
            .scopes
            .register_scope(scope.clone(), schema_url.clone());
        let meter = Meter::new(scope, schema_url, index, shared.settings.clone());
        meters.push(meter.clone());
        drop(meters);
        start_reader(shared);
        meter
    }

    /// Every meter's metrics now, as one request under the client's resource.
    pub(crate) fn collect_request(&self) -> ExportMetricsServiceRequest {
        let scope_metrics = self
            .shared
            .collect()
            .into_iter()
            .filter(|(_, metrics)| !metrics.is_empty())
            .map(|(meter, metrics)| ScopeMetrics {
                scope: Some(meter.scope().clone()),
                metrics: metrics.into_iter().map(Collected::into_metric).collect(),
                schema_url: meter.schema_url().clone(),
            })
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.shared.resource.clone()),
                scope_metrics,
                ..ResourceMetrics::default()
            }],
        }
    }
}

impl Metrics {
    /// Every meter's metrics now, encoded as the pipeline's encoder encodes them.
    pub(crate) fn collect_encoded(&self, encoding: Encoding) -> EncodedBody {
        let mut batch: Vec<ScopedMetric> = self
            .shared
            .collect()
            .into_iter()
            .flat_map(|(meter, metrics)| {
                let scope = meter.scope_index();
                metrics
                    .into_iter()
                    .map(move |metric| ScopedMetric { scope, metric })
            })
            .collect();
        let mut encoder =
            ScopedMetricEncoder::new(self.shared.resource.clone(), self.shared.scopes.clone());
        encoder.encode(&mut batch, encoding)
    }
}

impl Drop for Metrics {
    /// The client goes without a shutdown: what was recorded since the last export goes with
    /// the pipeline's own flush at drop.
    fn drop(&mut self) {
        if self.shared.stop_reader() {
            self.shared.collect_into_pipeline();
        }
    }
}

impl Shared {
    /// Every meter with its metrics now.
    fn collect(&self) -> Vec<(Meter, Vec<Collected>)> {
        let _one = self
            .collecting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let meters = self
            .meters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        meters
            .into_iter()
            .map(|m| {
                let metrics = m.collect();
                (m, metrics)
            })
            .collect()
    }

    /// Collects every meter into the pipeline (its items then count in the pipeline's stats).
    fn collect_into_pipeline(&self) {
        for (meter, metrics) in self.collect() {
            let scope = meter.scope_index();
            for metric in metrics {
                let _ = self.hub.enqueue(ScopedMetric { scope, metric });
            }
        }
    }

    /// Stops the periodic reader; whether it was running or never started (that is, whether
    /// this is the first stop).
    fn stop_reader(&self) -> bool {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        !matches!(
            std::mem::replace(&mut *reader, Reader::Stopped),
            Reader::Stopped
        )
    }
}

/// Starts the periodic reader of `shared` if it has an interval and is not started or stopped.
fn start_reader(shared: &Arc<Shared>) {
    let Some(interval) = shared.settings.interval else {
        return;
    };
    let mut reader = shared.reader.lock().unwrap_or_else(PoisonError::into_inner);
    if !matches!(*reader, Reader::NotStarted) {
        return;
    }
    let (stop, wake) = mpsc::channel::<()>();
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let started = crate::thread::spawn("otlp-metrics-reader".to_owned(), move || {
        while let Err(RecvTimeoutError::Timeout) = wake.recv_timeout(interval) {
            let Some(shared) = weak.upgrade() else {
                return;
            };
            shared.collect_into_pipeline();
        }
    });
    // Without a thread (the system refused one), metrics still go out at flush and shutdown.
    if started.is_ok() {
        *reader = Reader::Running(stop);
    }
}

/// How the client sees its metrics: a flush or a shutdown collects first.
struct MetricsComponent(Arc<Shared>);

impl Component for MetricsComponent {
    fn signal(&self) -> Signal {
        Signal::Metrics
    }

    fn queue_capacity(&self) -> usize {
        self.0.hub.queue_capacity()
    }

    fn export_timeout(&self) -> Duration {
        self.0.hub.export_timeout()
    }

    fn is_started(&self) -> bool {
        self.0.hub.is_started()
    }

    fn stats(&self) -> Stats {
        self.0.hub.stats()
    }

    fn force_flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>> {
        if !self.0.hub.is_closed() && has_meters(&self.0) {
            self.0.collect_into_pipeline();
        }
        self.0.hub.force_flush(timeout)
    }

    fn persist(&self) -> BoxFuture<'_, Result<(), Error>> {
        self.0.hub.persist()
    }

    fn shutdown(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>> {
        if self.0.stop_reader() && has_meters(&self.0) {
            self.0.collect_into_pipeline();
        }
        self.0.hub.shutdown(timeout)
    }
}

fn has_meters(shared: &Shared) -> bool {
    !shared
        .meters
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_empty()
}

/// Describes a meter before it is made: [`OtlpClient::meter_builder`](crate::OtlpClient::meter_builder).
#[derive(Debug)]
pub struct MeterBuilder<'a> {
    pub(crate) metrics: &'a Metrics,
    pub(crate) scope: InstrumentationScope,
    pub(crate) schema_url: Str,
}

impl MeterBuilder<'_> {
    /// The version of the instrumentation scope (a crate's version).
    pub fn with_version(mut self, version: impl Into<Str>) -> Self {
        self.scope.version = version.into();
        self
    }

    /// The schema URL of the semantic conventions its instruments follow.
    pub fn with_schema_url(mut self, schema_url: impl Into<Str>) -> Self {
        self.schema_url = schema_url.into();
        self
    }

    /// Attributes of the instrumentation scope.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.scope.attributes = attributes.into_iter().collect();
        self
    }

    /// The meter: the same one for the same name, version, schema URL and attributes.
    pub fn build(self) -> Meter {
        self.metrics.meter(self.scope, self.schema_url)
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("hub", &self.shared.hub)
            .finish_non_exhaustive()
    }
}
