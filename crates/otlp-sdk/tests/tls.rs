//! TLS with a custom CA, mutual TLS, and the failures a person must be able to read.

mod common;

use common::{PROTOCOLS, Pki, base_url, receiver_with};
use otlp::{Exporter, ExporterConfig, Protocol};
use otlp_proto::{Signal, sample};
use otlp_receiver::MemorySink;
use std::collections::HashMap;
use std::time::Duration;

fn tls_config(rx: &otlp_receiver::RunningReceiver, protocol: Protocol) -> ExporterConfig {
    ExporterConfig::default()
        .with_protocol(protocol)
        .with_endpoint(base_url(rx, protocol, "https").replace("127.0.0.1", "localhost"))
        .with_timeout(Duration::from_secs(10))
        .with_retry(common::fast_retry())
}

#[tokio::test]
async fn tls_with_a_custom_ca_on_every_protocol() {
    let pki = Pki::new();
    let sink = MemorySink::new();
    let rx = receiver_with(sink.clone(), Some(pki.server_tls())).await;
    for protocol in PROTOCOLS {
        let exporter =
            Exporter::new(tls_config(&rx, protocol).with_certificate(pki.ca())).expect("exporter");
        assert!(exporter.signal_config(Signal::Traces).is_tls());
        sink.clear();
        let outcome = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(outcome.attempts, 1);
        assert_eq!(
            sink.requests()[0].request,
            sample::request(Signal::Traces),
            "{protocol}"
        );
    }
    // An IP address in the URL is verified against the certificate's IP SAN.
    let exporter = Exporter::new(
        tls_config(&rx, Protocol::Grpc)
            .with_endpoint(base_url(&rx, Protocol::Grpc, "https"))
            .with_certificate(pki.ca()),
    )
    .expect("exporter");
    exporter
        .export_request(&sample::request(Signal::Logs))
        .await
        .expect("IP SAN verifies");
    rx.shutdown().await;
}

#[tokio::test]
async fn a_server_signed_by_another_ca_fails_clearly_and_is_not_retried() {
    let pki = Pki::new();
    let rx = receiver_with(MemorySink::new(), Some(pki.server_tls())).await;
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let exporter =
            Exporter::new(tls_config(&rx, protocol).with_certificate(pki.path("other-ca.pem")))
                .expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("untrusted server");
        assert!(err.is_tls(), "{protocol}: {err:?}");
        assert!(
            !err.is_retryable() && !err.is_retryable_exhausted(),
            "{protocol}"
        );
        assert_eq!(
            err.attempts(),
            1,
            "{protocol}: certificate errors are not retried"
        );
        let msg = err.to_string();
        assert!(msg.contains("TLS handshake with localhost failed"), "{msg}");
        assert!(msg.contains("certificate"), "{msg}");
        assert!(msg.contains("UnknownIssuer"), "{msg}");
        assert!(
            msg.contains("the server's certificate is not issued by a trusted CA"),
            "{msg}"
        );
    }
    rx.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_with_a_client_certificate() {
    let pki = Pki::new();
    let sink = MemorySink::new();
    let server = pki.server_tls().with_client_ca(pki.ca_pem.clone());
    let rx = receiver_with(sink.clone(), Some(server)).await;
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(
            tls_config(&rx, protocol)
                .with_certificate(pki.ca())
                .with_client_certificate(pki.path("client.pem"))
                .with_client_key(pki.path("client.key")),
        )
        .expect("exporter");
        sink.clear();
        exporter
            .export_request(&sample::request(Signal::Metrics))
            .await
            .unwrap_or_else(|e| panic!("{protocol}: {e}"));
        assert_eq!(sink.requests()[0].request, sample::request(Signal::Metrics));
    }

    // Without a client certificate the server refuses the handshake, and closes gracefully so
    // the client reads the alert: a TLS error, not retried.
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(
            tls_config(&rx, protocol)
                .with_certificate(pki.ca())
                .with_timeout(Duration::from_secs(2)),
        )
        .expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Metrics))
            .await
            .expect_err("no client certificate");
        assert!(err.status().is_none(), "{protocol}: {err:?}");
        assert!(
            err.is_tls() && !err.is_retryable_exhausted(),
            "{protocol}: {err:?}"
        );
    }
    rx.shutdown().await;
}

#[tokio::test]
async fn tls_files_come_from_the_environment_too() {
    let pki = Pki::new();
    let sink = MemorySink::new();
    let server = pki.server_tls().with_client_ca(pki.ca_pem.clone());
    let rx = receiver_with(sink.clone(), Some(server)).await;
    let path = |name: &str| pki.path(name).to_string_lossy().into_owned();
    let endpoint = base_url(&rx, Protocol::Grpc, "https").replace("127.0.0.1", "localhost");
    let vars = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", path("ca.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path("client.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path("client.key")),
    ]);
    let config = ExporterConfig::default()
        .with_env_source(&|name| vars.get(name).cloned())
        .expect("valid environment");
    let exporter = Exporter::new(config).expect("exporter");
    let sent = sample::request(Signal::Logs);
    exporter
        .export_request(&sent)
        .await
        .expect("mutual TLS from the environment");
    assert_eq!(sink.item_count(Signal::Logs), sent.item_count());
    rx.shutdown().await;
}

#[test]
fn unreadable_or_invalid_certificate_files_fail_at_construction() {
    let pki = Pki::new();
    let https = ExporterConfig::default().with_endpoint("https://localhost:4318");
    let missing = pki.path("missing.pem");
    let err = Exporter::new(https.clone().with_certificate(&missing)).expect_err("missing file");
    assert!(err.is_config(), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    assert!(err.to_string().contains("cannot read"), "{err}");

    let junk = pki.path("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let err = Exporter::new(https.clone().with_certificate(&junk)).expect_err("no certificate");
    assert!(err.to_string().contains("no certificate"), "{err}");

    let err = Exporter::new(
        https
            .with_client_certificate(pki.path("client.pem"))
            .with_client_key(pki.path("ca.pem")),
    )
    .expect_err("a certificate is not a key");
    assert!(err.to_string().contains("no private key"), "{err}");

    // Plain-text endpoints never read the files.
    Exporter::new(ExporterConfig::default().with_certificate(&missing))
        .expect("http:// ignores TLS");
}

/// Checks the handshake itself, with a bare rustls server that requires a client certificate:
/// the exporter must present the configured one, and without one must report the server's
/// refusal as a TLS error, without retrying.
///
/// Under TLS 1.3 the refusal is an alert sent after the client's side of the handshake. This
/// server closes refused connections gracefully (shutdown, then drain): a server that just drops
/// the socket while the client's first bytes are unread makes the kernel send a reset, which can
/// destroy the alert before the client reads it, and the client then only sees "connection
/// closed".
#[tokio::test]
async fn the_client_certificate_is_presented_in_the_handshake() {
    use rustls::server::WebPkiClientVerifier;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let pki = Pki::new();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pki.ca_pem).expect("CA"))
        .expect("add CA");
    let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
        .build()
        .expect("verifier");
    let acceptor = acceptor(
        &pki,
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(verifier),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    // Reports, per connection, the number of client certificates seen or the handshake error.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server_task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let result = match acceptor.accept(tcp).into_fallible().await {
                Ok(tls) => Ok(tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map_or(0, <[CertificateDer<'_>]>::len)),
                Err((e, mut tcp)) => {
                    let _ = tcp.shutdown().await;
                    let mut sink = Vec::new();
                    let _ =
                        tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut sink))
                            .await;
                    Err(e.to_string())
                }
            };
            let _ = tx.send(result);
        }
    });

    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let config = ExporterConfig::default()
            .with_protocol(protocol)
            .with_endpoint(format!("https://localhost:{}", addr.port()))
            .with_certificate(pki.ca())
            .with_timeout(Duration::from_secs(5));
        let with_cert = Exporter::new(
            config
                .clone()
                .with_client_certificate(pki.path("client.pem"))
                .with_client_key(pki.path("client.key"))
                .with_retry(otlp::RetryPolicy::disabled()),
        )
        .expect("exporter");
        // The server closes the connection after the handshake, so the export itself fails.
        let _ = with_cert
            .export_request(&sample::request(Signal::Traces))
            .await;
        let seen = rx.recv().await.expect("a connection");
        assert_eq!(seen, Ok(1), "{protocol}: one client certificate");

        let without = Exporter::new(config).expect("exporter");
        let err = without
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("the server requires a certificate");
        let seen = rx.recv().await.expect("a connection");
        assert!(
            seen.is_err(),
            "{protocol}: handshake without a certificate: {seen:?}"
        );
        assert!(err.is_tls() && !err.is_retryable(), "{protocol}: {err:?}");
        assert_eq!(err.attempts(), 1, "{protocol}: not retried");
        assert!(
            err.to_string().contains("CertificateRequired")
                && err
                    .to_string()
                    .contains("the server requires a client certificate"),
            "{protocol}: {err}"
        );
    }
    server_task.abort();
}

/// A bare rustls server with the SDK's provider, no client authentication: reports, for each
/// connection, the key exchange group the handshake settled on (or the handshake's error).
async fn group_reporting_server(
    pki: &Pki,
) -> (
    u16,
    tokio::sync::mpsc::UnboundedReceiver<Result<Option<rustls::NamedGroup>, String>>,
    tokio::task::JoinHandle<()>,
) {
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let acceptor = acceptor(
        pki,
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = match acceptor.accept(tcp).await {
                Ok(tls) => Ok(tls
                    .get_ref()
                    .1
                    .negotiated_key_exchange_group()
                    .map(|g| g.name())),
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(seen);
        }
    });
    (port, rx, task)
}

/// The exporter offers the post-quantum hybrid key exchange first, and a server that has it
/// (rustls with aws-lc-rs, as our receiver; Go 1.24+, as the Collector) settles on it.
#[tokio::test]
async fn the_handshake_settles_on_post_quantum_key_exchange() {
    let pki = Pki::new();
    let (port, mut seen, server) = group_reporting_server(&pki).await;
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let exporter = Exporter::new(
            ExporterConfig::default()
                .with_protocol(protocol)
                .with_endpoint(format!("https://localhost:{port}"))
                .with_certificate(pki.ca())
                .with_timeout(Duration::from_secs(5))
                .with_retry(otlp::RetryPolicy::disabled()),
        )
        .expect("exporter");
        // The server closes the connection after the handshake, so the export itself fails.
        let _ = exporter
            .export_request(&sample::request(Signal::Traces))
            .await;
        let group = seen.recv().await.expect("a connection");
        assert_eq!(
            group,
            Ok(Some(rustls::NamedGroup::X25519MLKEM768)),
            "{protocol}"
        );
    }
    server.abort();
}

/// An expired server certificate and one for another host are refused, each with an error that
/// says so, and not retried.
#[tokio::test]
async fn expired_and_wrong_host_certificates_are_refused_by_name() {
    let pki = Pki::new();
    let cases = [
        ("expired", "the server's certificate has expired"),
        (
            "wrong-host",
            "the server's certificate is not valid for this host name",
        ),
    ];
    for (name, reason) in cases {
        let rx = receiver_with(MemorySink::new(), Some(pki.server_tls_of(name))).await;
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            let exporter = Exporter::new(tls_config(&rx, protocol).with_certificate(pki.ca()))
                .expect("exporter");
            let err = exporter
                .export_request(&sample::request(Signal::Traces))
                .await
                .expect_err("refused");
            assert!(err.is_tls(), "{name} {protocol}: {err:?}");
            assert!(
                !err.is_retryable() && err.attempts() == 1,
                "{name} {protocol}: {err:?}"
            );
            let msg = err.to_string();
            assert!(msg.contains("TLS handshake with localhost failed"), "{msg}");
            assert!(msg.contains(reason), "{name} {protocol}: {msg}");
        }
        rx.shutdown().await;
    }
}

/// A TLS acceptor serving `pki`'s server certificate, for h2 and HTTP/1.1, built from `builder`
/// (which says how clients are authenticated).
fn acceptor(
    pki: &Pki,
    builder: rustls::ConfigBuilder<rustls::ServerConfig, rustls::server::WantsServerCert>,
) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut server = builder
        .with_single_cert(
            CertificateDer::pem_slice_iter(&pki.server_cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .expect("chain"),
            PrivateKeyDer::from_pem_slice(&pki.server_key_pem).expect("key"),
        )
        .expect("server config");
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server))
}
