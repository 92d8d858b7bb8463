//! Shared by the integration tests: a receiver on free ports with any sink, exporter
//! configurations pointing at it (`test_support::client`'s), and a throwaway PKI for the TLS
//! tests. The requests they send are `otlp_proto::sample`'s.

// Each test file uses part of this module.
#![allow(dead_code, unused_imports)]

pub mod child;
pub mod pipeline;

use otlp::Protocol;
use otlp_receiver::{Receiver, RunningReceiver, Sink, TlsConfig};

pub const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];

/// A receiver serving both transports on free loopback ports.
pub async fn receiver(sink: impl Sink) -> RunningReceiver {
    receiver_with(sink, None).await
}

/// A receiver serving both transports on free loopback ports, over TLS if `tls` is given.
pub async fn receiver_with(sink: impl Sink, tls: Option<TlsConfig>) -> RunningReceiver {
    let mut builder = Receiver::builder()
        .with_free_loopback_ports()
        .with_sink(sink);
    if let Some(tls) = tls {
        builder = builder.with_tls(tls);
    }
    builder.start().await.expect("receiver starts")
}

/// An exporter configuration for `protocol` pointing at the receiver, in plain text.
pub use test_support::client::exporter_config as config;
pub use test_support::client::{base_url, fast_retry};

/// A throwaway PKI: see `test_support::pki`.
pub use test_support::pki::Pki;
