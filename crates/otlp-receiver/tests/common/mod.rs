//! Shared by the integration tests: sample requests of every signal, a receiver on free ports,
//! and small hyper clients for OTLP/HTTP and OTLP/gRPC.

// Each test file uses part of this module.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderMap, Method, Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
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
use otlp_proto::{Compression, Encoding, Message, Request, Signal, grpc, rpc};
use otlp_receiver::{Receiver, ReceiverBuilder, RunningReceiver, Sink};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

pub const T0: u64 = 1_700_000_000_000_000_000;

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("host.cores", AnyValue::from(8i64)),
            KeyValue::new("sample.ratio", AnyValue::from(0.25)),
            KeyValue::new("greeting", "héllo ✓ \"quoted\""),
        ],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "receiver-tests".into(),
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
                            status: Some(otlp_proto::trace::Status {
                                message: "fine".into(),
                                code: 1,
                            }),
                            ..Default::default()
                        })
                        .collect(),
                    schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
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
                                unit: "Cel".into(),
                                data: Some(MetricData::Gauge(Gauge {
                                    data_points: vec![
                                        point(NumberValue::AsDouble(21.5)),
                                        point(NumberValue::AsDouble(-3.25)),
                                    ],
                                })),
                                ..Default::default()
                            },
                            Metric {
                                name: "latency".into(),
                                unit: "ms".into(),
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
                            observed_time_unix_nano: T0 + 5,
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

/// A receiver on free loopback ports, both transports.
pub async fn start(sink: impl Sink) -> RunningReceiver {
    start_with(builder().with_sink(sink)).await
}

/// The builder [`start`] uses: both transports on free loopback ports.
pub fn builder() -> ReceiverBuilder {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    Receiver::builder().with_grpc_addr(any).with_http_addr(any)
}

pub async fn start_with(builder: ReceiverBuilder) -> RunningReceiver {
    builder.start().await.expect("receiver starts")
}

pub fn compress(compression: Compression, data: &[u8]) -> Bytes {
    let mut out = Vec::new();
    compression.compress(data, &mut out).expect("compresses");
    out.into()
}

// ---- clients ---------------------------------------------------------------------------------

pub type TestBody = BoxBody<Bytes, Infallible>;
pub type TestClient = Client<HttpConnector, TestBody>;

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    http_body_util::Full::new(bytes.into()).boxed()
}

/// A body sent in `parts`, without a `Content-Length` (HTTP/1.1 chunked encoding).
pub fn chunked(parts: Vec<Bytes>) -> TestBody {
    Chunks(parts.into()).boxed()
}

struct Chunks(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// An HTTP/1.1 client.
pub fn http1_client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client with prior knowledge (h2c), as gRPC uses.
pub fn h2_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A response, read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Reply {
    /// The `google.rpc.Status` of an OTLP/HTTP error body, in the response's content type.
    pub fn rpc_status(&self) -> rpc::Status {
        let json =
            self.headers.get("content-type").map(|v| v.as_bytes()) == Some(b"application/json");
        if json {
            rpc::Status::from_json(&self.body).expect("JSON status body")
        } else {
            rpc::Status::decode(&self.body).expect("protobuf status body")
        }
    }
}

pub async fn send(client: &TestClient, request: HttpRequest<TestBody>) -> Reply {
    let response = client.request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// POSTs `body` to `path` on the HTTP listener.
pub async fn post(
    client: &TestClient,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: TestBody,
) -> Reply {
    let mut request = HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(client, request.body(body).expect("request")).await
}

/// POSTs an OTLP request, encoded and compressed as asked.
pub async fn export_http(
    client: &TestClient,
    addr: SocketAddr,
    request: &Request,
    encoding: Encoding,
    compression: Compression,
) -> (Reply, Bytes) {
    let body = compress(compression, &request.encode(encoding));
    let mut headers = vec![("content-type", encoding.content_type())];
    if let Some(token) = compression.encoding_token() {
        headers.push(("content-encoding", token));
    }
    let path = request.signal().http_path();
    (
        post(client, addr, path, &headers, full(body.clone())).await,
        body,
    )
}

// ---- gRPC ------------------------------------------------------------------------------------

/// A gRPC answer: HTTP status, headers, the response message (unframed) and the status from the
/// trailers, or from the headers of a trailers-only response.
#[derive(Debug)]
pub struct GrpcReply {
    pub http: StatusCode,
    pub headers: HeaderMap,
    pub message: Option<Bytes>,
    pub code: Option<i32>,
    pub status_message: String,
    pub details: Option<rpc::Status>,
}

/// Frames `request` as a gRPC message, compressed as asked.
pub fn grpc_body(request: &Request, compression: Compression) -> Bytes {
    let message = request.encode(Encoding::Protobuf);
    match compression {
        Compression::None => grpc::frame(false, &message).into(),
        c => grpc::frame(true, &compress(c, &message)).into(),
    }
}

/// Calls `path` on the gRPC listener with a raw `body`.
pub async fn grpc_call(
    client: &TestClient,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> GrpcReply {
    let mut request = HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = send(client, request.body(full(body)).expect("request")).await;
    grpc_reply(reply)
}

pub fn grpc_reply(reply: Reply) -> GrpcReply {
    // Trailers-only responses carry the status in the headers.
    let meta = reply
        .trailers
        .clone()
        .unwrap_or_else(|| reply.headers.clone());
    let code = meta
        .get("grpc-status")
        .map(|v| v.to_str().expect("ascii").parse().expect("number"));
    let status_message = meta
        .get("grpc-message")
        .map(|v| grpc::decode_message(v.as_bytes()))
        .unwrap_or_default();
    let details = meta
        .get("grpc-status-details-bin")
        .map(|v| decode_details(v.as_bytes()));
    let message = (!reply.body.is_empty()).then(|| {
        let (compressed, range) = grpc::decode_frame(&reply.body, usize::MAX).expect("one frame");
        assert!(!compressed, "the server answers uncompressed");
        reply.body.slice(range)
    });
    GrpcReply {
        http: reply.status,
        headers: reply.headers,
        message,
        code,
        status_message,
        details,
    }
}

/// Decodes `grpc-status-details-bin`, padded or not, as gRPC peers must accept both.
pub fn decode_details(value: &[u8]) -> rpc::Status {
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let raw = engine.decode(value).expect("base64");
    rpc::Status::decode(&raw.into()).expect("google.rpc.Status")
}
