//! Shared by the integration tests: sample requests of every signal, a receiver on free ports,
//! exporter configurations pointing at it, and a throwaway PKI for the TLS tests.

// Each test file uses part of this module.
#![allow(dead_code)]

use otlp::{ExporterConfig, Protocol, RetryPolicy};
use otlp_proto::collector::*;
use otlp_proto::common::{AnyValue, InstrumentationScope, KeyValue};
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::metrics::{
    Gauge, Histogram, HistogramDataPoint, Metric, MetricData, NumberDataPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Sum,
};
use otlp_proto::profiles::{
    Profile, ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
use otlp_proto::{Request, Signal};
use otlp_receiver::{Receiver, RunningReceiver, Sink, TlsConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];

const T0: u64 = 1_700_000_000_000_000_000;

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            KeyValue::new("service.name", "exporter-tests"),
            KeyValue::new("host.cores", AnyValue::from(8i64)),
            KeyValue::new("greeting", "h\u{e9}llo \u{2713} \"quoted\""),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "otlp-tests".into(),
        version: "1.0.0".into(),
        ..Default::default()
    })
}

/// A request of `signal` with a few items and a bit of everything in it.
pub fn sample(signal: Signal) -> Request {
    match signal {
        Signal::Traces => ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    scope: scope(),
                    spans: (0..3u8)
                        .map(|i| Span {
                            trace_id: vec![0xab; 16].into(),
                            span_id: vec![i + 1; 8].into(),
                            name: format!("GET /items/{i}").into(),
                            kind: 2,
                            start_time_unix_nano: T0 + u64::from(i),
                            end_time_unix_nano: T0 + 1_000 + u64::from(i),
                            attributes: vec![KeyValue::new("i", AnyValue::from(i64::from(i)))],
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .into(),
        Signal::Metrics => {
            let point = |v: NumberValue| NumberDataPoint {
                time_unix_nano: T0,
                value: Some(v),
                attributes: vec![KeyValue::new("room", "kitchen")],
                ..Default::default()
            };
            ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: resource(),
                    scope_metrics: vec![ScopeMetrics {
                        scope: scope(),
                        metrics: vec![
                            Metric {
                                name: "requests".into(),
                                unit: "1".into(),
                                data: Some(MetricData::Sum(Sum {
                                    data_points: vec![point(NumberValue::AsInt(42))],
                                    aggregation_temporality: 2,
                                    is_monotonic: true,
                                })),
                                ..Default::default()
                            },
                            Metric {
                                name: "temperature".into(),
                                data: Some(MetricData::Gauge(Gauge {
                                    data_points: vec![point(NumberValue::AsDouble(-3.25))],
                                })),
                                ..Default::default()
                            },
                            Metric {
                                name: "latency".into(),
                                data: Some(MetricData::Histogram(Histogram {
                                    data_points: vec![HistogramDataPoint {
                                        time_unix_nano: T0,
                                        count: 3,
                                        sum: Some(6.5),
                                        bucket_counts: vec![1, 2],
                                        explicit_bounds: vec![2.0],
                                        ..Default::default()
                                    }],
                                    aggregation_temporality: 1,
                                })),
                                ..Default::default()
                            },
                        ],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            }
            .into()
        }
        Signal::Logs => ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    scope: scope(),
                    log_records: (0..2u8)
                        .map(|i| LogRecord {
                            time_unix_nano: T0 + u64::from(i),
                            severity_number: 9,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue::from(format!("line {i}\nwith a newline"))),
                            trace_id: vec![0xab; 16].into(),
                            span_id: vec![i + 1; 8].into(),
                            event_name: "app.started".into(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .into(),
        Signal::Profiles => ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: resource(),
                scope_profiles: vec![ScopeProfiles {
                    scope: scope(),
                    profiles: vec![Profile {
                        sample_type: Some(ValueType {
                            type_strindex: 1,
                            unit_strindex: 2,
                        }),
                        samples: vec![Sample {
                            stack_index: 0,
                            values: vec![10, 20],
                            timestamps_unix_nano: vec![T0, T0 + 1],
                            ..Default::default()
                        }],
                        time_unix_nano: T0,
                        duration_nano: 1_000_000,
                        profile_id: vec![7; 16].into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                string_table: vec!["".into(), "cpu".into(), "nanoseconds".into()],
                stack_table: vec![Stack {
                    location_indices: vec![0],
                }],
                ..Default::default()
            }),
        }
        .into(),
    }
}

/// A receiver serving both transports on free loopback ports.
pub async fn receiver(sink: impl Sink) -> RunningReceiver {
    receiver_with(sink, None).await
}

/// A receiver serving both transports on free loopback ports, over TLS if `tls` is given.
pub async fn receiver_with(sink: impl Sink, tls: Option<TlsConfig>) -> RunningReceiver {
    let mut builder = Receiver::builder()
        .with_grpc_addr(loopback())
        .with_http_addr(loopback())
        .with_sink(sink);
    if let Some(tls) = tls {
        builder = builder.with_tls(tls);
    }
    builder.start().await.expect("receiver starts")
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("valid address")
}

/// `scheme://addr` of the receiver's listener for `protocol`.
pub fn base_url(receiver: &RunningReceiver, protocol: Protocol, scheme: &str) -> String {
    let addr = match protocol {
        Protocol::Grpc => receiver.grpc_addr(),
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

/// An exporter configuration for `protocol` pointing at the receiver, in plain text.
pub fn config(receiver: &RunningReceiver, protocol: Protocol) -> ExporterConfig {
    ExporterConfig::default()
        .with_protocol(protocol)
        .with_endpoint(base_url(receiver, protocol, "http"))
        .with_timeout(Duration::from_secs(20))
        .with_retry(fast_retry())
}

/// A throwaway PKI in a temporary directory: a CA, a server certificate for `localhost` and
/// `127.0.0.1`, a client certificate, and an unrelated CA.
pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: Vec<u8>,
    pub server_cert_pem: Vec<u8>,
    pub server_key_pem: Vec<u8>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "otlp-tls-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");

        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::new()).expect("params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, name);
            let key = KeyPair::generate().expect("key");
            let cert = params.self_signed(&key).expect("self-signed");
            (cert, Issuer::new(params, key))
        };
        let (ca_cert, issuer) = ca("otlp test CA");
        let (other_ca, _) = ca("some other CA");
        let leaf = |names: Vec<String>| {
            let params = CertificateParams::new(names).expect("params");
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &issuer).expect("signed");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
        let (client_cert, client_key) = leaf(vec!["client".into()]);

        let write = |name: &str, pem: &str| {
            std::fs::write(dir.join(name), pem).expect("write PEM");
        };
        write("ca.pem", &ca_cert.pem());
        write("other-ca.pem", &other_ca.pem());
        write("client.pem", &client_cert);
        write("client.key", &client_key);
        Pki {
            dir,
            ca_pem: ca_cert.pem().into_bytes(),
            server_cert_pem: server_cert.into_bytes(),
            server_key_pem: server_key.into_bytes(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn server_tls(&self) -> TlsConfig {
        TlsConfig::new(self.server_cert_pem.clone(), self.server_key_pem.clone())
    }

    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
