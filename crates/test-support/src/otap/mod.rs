//! OTLP/Arrow (OTAP) test peers: a raw stream client ([`OtapStream`]) that sends whatever it is
//! given to any OTAP server (ours or the Collector's `otelarrowreceiver`), and a scripted server
//! ([`OtapServer`]) for the exporter's tests; and the small helpers both use.

mod client;
mod server;

pub use client::{OtapEnd, OtapStream};
pub use server::{OtapServer, Script};

use crate::clients::{TestClient, post_request};
use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use otlp_otap::{
    BatchArrowRecords, BatchStatus, LogsEncoder, MetricsEncoder, TracesEncoder, normalize_logs,
    normalize_metrics, normalize_traces,
};
use otlp_proto::{Message, Request, RevBuf, Signal, grpc};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long any step waits for the server before the test fails.
const WAIT: Duration = Duration::from_secs(60);

/// The OTAP method of `signal`: `/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces`
/// and its logs and metrics siblings. Panics for profiles, which OTAP does not carry.
pub fn method(signal: Signal) -> &'static str {
    otlp_otap::grpc_method(signal).expect("OTAP carries no profiles")
}

/// `batch` as one uncompressed gRPC message.
pub fn frame(batch: &BatchArrowRecords) -> Bytes {
    let mut buf = RevBuf::new();
    grpc::encode_frame(batch, &mut buf);
    buf.into_bytes()
}

/// One stream's encoder (otlp-otap's), for whichever signal a test sends.
#[derive(Debug)]
pub enum StreamEncoder {
    /// Traces.
    Traces(TracesEncoder),
    /// Logs.
    Logs(LogsEncoder),
    /// Metrics.
    Metrics(MetricsEncoder),
}

impl StreamEncoder {
    /// A fresh encoder of `signal` (panics for profiles).
    pub fn new(signal: Signal) -> Self {
        match signal {
            Signal::Traces => StreamEncoder::Traces(TracesEncoder::new()),
            Signal::Logs => StreamEncoder::Logs(LogsEncoder::new()),
            Signal::Metrics => StreamEncoder::Metrics(MetricsEncoder::new()),
            Signal::Profiles => panic!("OTAP carries no profiles"),
        }
    }

    /// `request` as the stream's next batch (panics if it is another signal's, or does not
    /// encode).
    pub fn encode(&mut self, request: &Request) -> BatchArrowRecords {
        match (self, request) {
            (StreamEncoder::Traces(e), Request::Traces(r)) => e.encode(r),
            (StreamEncoder::Logs(e), Request::Logs(r)) => e.encode(r),
            (StreamEncoder::Metrics(e), Request::Metrics(r)) => e.encode(r),
            (e, r) => panic!("a {:?} encoder given a {} request", e, r.signal()),
        }
        .expect("otlp-otap encodes the request")
    }
}

/// `request` as OTAP gives it back (otlp-otap's `normalize_*`).
pub fn normalize(request: Request) -> Request {
    match request {
        Request::Traces(r) => Request::Traces(normalize_traces(r)),
        Request::Logs(r) => Request::Logs(normalize_logs(r)),
        Request::Metrics(r) => Request::Metrics(normalize_metrics(r)),
        profiles => profiles,
    }
}

type Response = http::Response<UnsyncBoxBody<Bytes, String>>;
