//! An [`OtlpClient`] exporting to an in-process receiver, and what it received: the set-up of the
//! SDK's and the `tracing` bridge's end-to-end tests.
//!
//! ```no_run
//! # async fn demo() {
//! use otlp::trace::Sampler;
//! use test_support::client::Harness;
//!
//! let h = Harness::builder()
//!     .service_name("traces-test")
//!     .start(|config| config.with_sampler(Sampler::AlwaysOn))
//!     .await;
//! h.client.tracer("demo").start("work").end();
//! let spans = h.spans().await; // flushes first
//! assert_eq!(spans[0].item.name, "work");
//! # }
//! ```

use otlp::pipeline::AdaptiveBatchConfig;
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::logs::LogRecord;
use otlp_proto::metrics::Metric;
use otlp_proto::resource::Resource;
use otlp_proto::trace::Span;
use otlp_proto::{Placed, Request};
use otlp_receiver::{MemorySink, Receiver, RunningReceiver};
use std::time::Duration;

/// How long a flush, an export or a shutdown may take in a test.
pub const WAIT: Duration = Duration::from_secs(20);

/// `scheme://addr` of the receiver's listener for `protocol`.
pub fn base_url(receiver: &RunningReceiver, protocol: Protocol, scheme: &str) -> String {
    let addr = match protocol {
        Protocol::Grpc | Protocol::Otap => receiver.grpc_addr(),
        Protocol::HttpProtobuf | Protocol::HttpJson => receiver.http_addr(),
    };
    format!("{scheme}://{}", addr.expect("listener is on"))
}

/// Retries that are quick enough for tests.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(100))
}

/// An exporter configuration for `protocol` pointing at the receiver, in plain text, with a
/// [`WAIT`] timeout and [`fast_retry`].
pub fn exporter_config(receiver: &RunningReceiver, protocol: Protocol) -> ExporterConfig {
    ExporterConfig::default()
        .with_protocol(protocol)
        .with_endpoint(base_url(receiver, protocol, "http"))
        .with_timeout(WAIT)
        .with_retry(fast_retry())
}

/// An item received, with its resource and scope: an owned [`Placed`].
#[derive(Debug, Clone)]
pub struct Item<T> {
    /// The resource of the item's group.
    pub resource: Option<Resource>,
    /// The instrumentation scope of the item's group.
    pub scope: Option<InstrumentationScope>,
    /// The schema URL of the item's scope group (empty when none).
    pub schema_url: String,
    /// The item.
    pub item: T,
}

impl<T: Clone> From<Placed<'_, T>> for Item<T> {
    fn from(placed: Placed<'_, T>) -> Self {
        Item {
            resource: placed.resource.cloned(),
            scope: placed.scope.cloned(),
            schema_url: placed.schema_url.to_owned(),
            item: placed.item.clone(),
        }
    }
}

/// A fresh in-memory receiver, and the address a peer exporting with the OTLP protocol named
/// `protocol` (`grpc`, `http/protobuf`, `http/json`, as `OTEL_EXPORTER_OTLP_PROTOCOL` names
/// them) sends to.
pub async fn receiver_for(protocol: &str) -> (RunningReceiver, MemorySink, std::net::SocketAddr) {
    let (receiver, sink) = Receiver::start_in_memory()
        .await
        .expect("start the receiver");
    let addr = if protocol == "grpc" {
        receiver.grpc_addr()
    } else {
        receiver.http_addr()
    }
    .expect("bound");
    (receiver, sink, addr)
}

/// The spans, log records and metrics of some requests, in request order.
#[derive(Debug, Default)]
pub struct Exported {
    /// Every span.
    pub spans: Vec<Item<Span>>,
    /// Every log record.
    pub log_records: Vec<Item<LogRecord>>,
    /// Every metric (a flush collects and exports the client's metrics too).
    pub metrics: Vec<Item<Metric>>,
}

impl Exported {
    /// Flattens `requests`; panics on a request of profiles.
    pub fn of(requests: impl IntoIterator<Item = Request>) -> Exported {
        let mut out = Exported::default();
        for request in requests {
            match request {
                Request::Traces(t) => out.spans.extend(t.spans().map(Item::from)),
                Request::Logs(l) => out.log_records.extend(l.log_records().map(Item::from)),
                Request::Metrics(m) => out.metrics.extend(m.metrics().map(Item::from)),
                other => panic!("unexpected request {other:?}"),
            }
        }
        out
    }
}

/// Configures a [`Harness`]: the protocol, the resource's `service.name`, and the traces' and
/// logs' pipelines' scheduled delay.
#[derive(Debug, Clone)]
pub struct HarnessBuilder {
    protocol: Protocol,
    service_name: String,
    scheduled_delay: Duration,
}

impl HarnessBuilder {
    /// The exporter's protocol (default: HTTP/protobuf).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The resource's `service.name`, its only attribute (default: `otlp-test`).
    pub fn service_name(mut self, name: &str) -> Self {
        name.clone_into(&mut self.service_name);
        self
    }

    /// How long a batch of spans or log records waits before it leaves (default: 20 ms).
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = delay;
        self
    }

    /// Starts the receiver, then the client with the configuration [`Harness::config`] makes
    /// passed through `configure` (for a sampler, limits, ...).
    pub async fn start(self, configure: impl FnOnce(ClientConfig) -> ClientConfig) -> Harness {
        let (receiver, sink) = Receiver::start_in_memory().await.expect("receiver starts");
        let config = configure(self.config(&receiver, &self.service_name));
        let client = OtlpClient::new(config).await.expect("client starts");
        Harness {
            client,
            sink,
            receiver,
            builder: self,
        }
    }

    fn config(&self, receiver: &RunningReceiver, service_name: &str) -> ClientConfig {
        let batching = AdaptiveBatchConfig::default().with_scheduled_delay(self.scheduled_delay);
        ClientConfig::new()
            .with_exporter(exporter_config(receiver, self.protocol))
            .with_resource(Resource {
                attributes: vec![KeyValue::new("service.name", service_name.to_owned())],
                ..Resource::default()
            })
            .with_resource_detection(false)
            .with_traces_pipeline(batching.clone())
            .with_logs_pipeline(batching)
    }
}

/// An in-process receiver keeping what arrives in memory, and a client exporting to it.
#[derive(Debug)]
pub struct Harness {
    /// The client.
    pub client: OtlpClient,
    /// What the receiver received.
    pub sink: MemorySink,
    /// The receiver (stopped when dropped).
    pub receiver: RunningReceiver,
    builder: HarnessBuilder,
}

impl Harness {
    /// The defaults: HTTP/protobuf, `service.name` `otlp-test`, batches leaving after 20 ms.
    pub fn builder() -> HarnessBuilder {
        HarnessBuilder {
            protocol: Protocol::HttpProtobuf,
            service_name: "otlp-test".to_owned(),
            scheduled_delay: Duration::from_millis(20),
        }
    }

    /// [`Harness::builder`]`().start(configure)`.
    pub async fn start(configure: impl FnOnce(ClientConfig) -> ClientConfig) -> Harness {
        Harness::builder().start(configure).await
    }

    /// The configuration the harness's client started from (before `configure`), but for
    /// `service_name`: exporting to the receiver with the harness's protocol (a [`WAIT`]
    /// timeout, [`fast_retry`]), the resource with the one attribute `service.name` and
    /// detection off, the traces and logs pipelines with the scheduled delay. For a second
    /// client exporting to the same receiver.
    pub fn config(&self, service_name: &str) -> ClientConfig {
        self.builder.config(&self.receiver, service_name)
    }

    /// Flushes the client, waiting [`WAIT`] at the most.
    pub async fn flush(&self) {
        self.client.force_flush(WAIT).await.expect("flush");
    }

    /// Flushes, then returns every request received.
    pub async fn requests(&self) -> Vec<Request> {
        self.flush().await;
        self.requests_so_far()
    }

    /// Every request received so far, without flushing (to see what the client sent on its
    /// own, or after it shut down).
    pub fn requests_so_far(&self) -> Vec<Request> {
        self.sink
            .requests()
            .into_iter()
            .map(|r| r.request)
            .collect()
    }

    /// Flushes, then returns every span and log record received; panics on other requests.
    pub async fn received(&self) -> Exported {
        Exported::of(self.requests().await)
    }

    /// Flushes, then returns every span received; panics on a request that is not traces.
    pub async fn spans(&self) -> Vec<Item<Span>> {
        let only = |r: &Request| matches!(r, Request::Traces(_));
        self.received_only("traces", only).await.spans
    }

    /// Flushes, then returns every log record received; panics on a request that is not logs.
    pub async fn log_records(&self) -> Vec<Item<LogRecord>> {
        let only = |r: &Request| matches!(r, Request::Logs(_));
        self.received_only("logs", only).await.log_records
    }

    async fn received_only(&self, signal: &str, only: fn(&Request) -> bool) -> Exported {
        let requests = self.requests().await;
        assert!(requests.iter().all(only), "not {signal}: {requests:?}");
        Exported::of(requests)
    }
}
