//! TLS and mutual TLS with the real OpenTelemetry Collector (`peercol`), with certificates made
//! on the spot (`test_support::pki`):
//!
//! - our exporter -> the Collector's OTLP receiver (gRPC and HTTP) over TLS and over mutual
//!   TLS, the data read back from its file exporter; the handshake settles on the post-quantum
//!   X25519MLKEM768 (Go's crypto/tls has it by default);
//! - each wrong certificate refused with an error that names the reason, not retried: a server
//!   certificate from another CA, an expired one, one for another host, and no client
//!   certificate where the Collector requires one;
//! - the Collector's `otlp_grpc` and `otlp_http` exporters -> our receiver over mutual TLS.

use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_interop::{Collector, CollectorTls, Forward, ForwardTls, compare, tail, temp_dir};
use otlp_proto::{Signal, sample};
use otlp_receiver::{MemorySink, Receiver, Transport};
use std::path::PathBuf;
use std::time::Duration;
use test_support::pki::Pki;

/// The protocols whose TLS paths differ: HTTP/2 (gRPC) and HTTP/1.1.
const PROTOCOLS: [Protocol; 2] = [Protocol::Grpc, Protocol::HttpProtobuf];

/// Starts a Collector whose OTLP receiver serves `name.pem`/`name.key` of `pki`, requiring
/// client certificates from the CA if `mutual` (on a blocking thread: it polls with sleeps).
async fn tls_collector(pki: &Pki, name: &str, mutual: bool) -> Collector {
    let tls = CollectorTls {
        server: Some((
            pki.path(&format!("{name}.pem")),
            pki.path(&format!("{name}.key")),
        )),
        client_ca: mutual.then(|| pki.ca()),
        forward: None,
    };
    let dir = temp_dir(&format!("collector-tls-{name}-{mutual}"));
    tokio::task::spawn_blocking(move || Collector::start_tls(&dir, None, tls))
        .await
        .expect("join")
}

/// An exporter to the Collector at `localhost` (the name its certificate is for), trusting `ca`.
fn exporter(
    collector: &Collector,
    protocol: Protocol,
    ca: PathBuf,
    client: Option<&Pki>,
) -> Exporter {
    let port = match protocol {
        Protocol::Grpc => collector.grpc.port(),
        _ => collector.http.port(),
    };
    let mut config = ExporterConfig::new()
        .with_protocol(protocol)
        .with_endpoint(format!("https://localhost:{port}"))
        .with_certificate(ca)
        .with_timeout(Duration::from_secs(10))
        // Retries allowed, so that "not retried" below is the exporter's decision.
        .with_retry(RetryPolicy::default());
    if let Some(pki) = client {
        config = config
            .with_client_certificate(pki.path("client.pem"))
            .with_client_key(pki.path("client.key"));
    }
    Exporter::new(config).expect("exporter")
}

/// Exports one traces request per protocol and checks that each came out of the Collector.
async fn exports_arrive(collector: &Collector, pki: &Pki, client: Option<&Pki>) {
    let sent = sample::request(Signal::Traces);
    for protocol in PROTOCOLS {
        exporter(collector, protocol, pki.ca(), client)
            .export_request(&sent)
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}\nCollector log:\n{}", collector.log()));
    }
    let lines = collector.read_output(Signal::Traces, PROTOCOLS.len(), Duration::from_secs(30));
    for (i, got) in lines.iter().enumerate() {
        compare::assert_same(&format!("traces line {}", i + 1), &sent, got);
    }
}

/// The key exchange group a rustls client with the SDK's provider and defaults settles on with
/// the Collector's gRPC receiver.
async fn negotiated_group(collector: &Collector, pki: &Pki) -> Option<rustls::NamedGroup> {
    use rustls_pki_types::ServerName;
    use rustls_pki_types::pem::PemObject;
    use std::sync::Arc;

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(&pki.ca_pem).expect("CA"))
        .expect("add CA");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(collector.grpc)
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake with the Collector");
    tls.get_ref()
        .1
        .negotiated_key_exchange_group()
        .map(|g| g.name())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_exporter_reaches_the_collector_over_tls_with_post_quantum_key_exchange() {
    let pki = Pki::new();
    let collector = tls_collector(&pki, "server", false).await;
    exports_arrive(&collector, &pki, None).await;
    assert_eq!(
        negotiated_group(&collector, &pki).await,
        Some(rustls::NamedGroup::X25519MLKEM768),
        "Collector log:\n{}",
        tail(&collector.log(), 20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_exporter_reaches_the_collector_over_mutual_tls_and_is_refused_without_a_certificate() {
    let pki = Pki::new();
    let collector = tls_collector(&pki, "server", true).await;
    exports_arrive(&collector, &pki, Some(&pki)).await;
    refused(
        &collector,
        pki.ca(),
        "the server requires a client certificate",
    )
    .await;
}

/// Exports to `collector` trusting `ca` (with no client certificate) fail on both protocols, as
/// TLS errors, once, with `reason` in the message.
async fn refused(collector: &Collector, ca: PathBuf, reason: &str) {
    for protocol in PROTOCOLS {
        let err = exporter(collector, protocol, ca.clone(), None)
            .export_request(&sample::request(Signal::Logs))
            .await
            .expect_err("a certificate to refuse");
        assert!(err.is_tls(), "{protocol}: {err:?}");
        assert!(
            !err.is_retryable() && !err.is_retryable_exhausted() && err.attempts() == 1,
            "{protocol}: not retried: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("TLS") && msg.contains(reason),
            "{protocol}: {msg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_certificate_from_another_ca_is_refused_as_such() {
    let pki = Pki::new();
    let collector = tls_collector(&pki, "server", false).await;
    refused(
        &collector,
        pki.path("other-ca.pem"),
        "the server's certificate is not issued by a trusted CA",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_collector_certificate_is_refused_as_such() {
    let pki = Pki::new();
    let collector = tls_collector(&pki, "expired", false).await;
    refused(&collector, pki.ca(), "the server's certificate has expired").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_certificate_for_another_host_is_refused_as_such() {
    let pki = Pki::new();
    let collector = tls_collector(&pki, "wrong-host", false).await;
    refused(
        &collector,
        pki.ca(),
        "the server's certificate is not valid for this host name",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_forwards_to_our_receiver_over_mutual_tls() {
    let pki = Pki::new();
    let sink = MemorySink::new();
    let receiver = Receiver::builder()
        .with_free_loopback_ports()
        .with_sink(sink.clone())
        .with_tls(pki.server_tls().with_client_ca(pki.ca_pem.clone()))
        .start()
        .await
        .expect("our receiver");
    let forward = Forward {
        grpc: receiver.grpc_addr().expect("grpc"),
        http: receiver.http_addr().expect("http"),
    };
    let tls = CollectorTls {
        forward: Some(ForwardTls {
            ca: pki.ca(),
            client: Some((pki.path("client.pem"), pki.path("client.key"))),
        }),
        ..CollectorTls::default()
    };
    let dir = temp_dir("collector-tls-forward");
    let collector =
        tokio::task::spawn_blocking(move || Collector::start_tls(&dir, Some(forward), tls))
            .await
            .expect("join");

    // Sent to the Collector in plain text; it forwards through both exporters, over mTLS.
    let sent = sample::request(Signal::Traces);
    Exporter::new(
        ExporterConfig::new()
            .with_protocol(Protocol::Grpc)
            .with_endpoint(format!("http://{}", collector.grpc))
            .with_timeout(Duration::from_secs(10)),
    )
    .expect("exporter")
    .export_request(&sent)
    .await
    .expect("export to the Collector");
    let items = sent.item_count();
    assert!(
        sink.wait_for_items(Signal::Traces, 2 * items, Duration::from_secs(30))
            .await,
        "{} spans arrived, expected {}; Collector log:\n{}",
        sink.item_count(Signal::Traces),
        2 * items,
        tail(&collector.log(), 30)
    );
    let got = sink.requests();
    for transport in [Transport::Grpc, Transport::Http] {
        let what = format!("traces -> Collector -> {transport:?} over mTLS");
        let forwarded: Vec<_> = got.iter().filter(|r| r.transport == transport).collect();
        let [one] = forwarded[..] else {
            panic!("{what}: {} requests", forwarded.len());
        };
        compare::assert_same(&what, &sent, &one.request);
    }
    drop(collector);
    receiver.shutdown().await;
}
