//! TLS and mutual TLS on both listeners, with certificates made on the spot.

mod common;

use common::*;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_proto::grpc::code;
use otlp_proto::{Compression, Encoding, Signal, sample};
use otlp_receiver::{MemorySink, TlsConfig};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A CA, a server certificate for localhost and a client certificate, all PEM.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "otlp test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);

    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(
        vec!["client.test".into()],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    Pki {
        ca: ca_cert.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

impl Pki {
    fn server(&self) -> TlsConfig {
        TlsConfig::new(
            self.server_cert.clone().into_bytes(),
            self.server_key.clone().into_bytes(),
        )
    }

    fn client(&self, with_cert: bool, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca.as_bytes()) {
            roots.add(cert.expect("CA PEM")).expect("CA");
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
        let mut config = if with_cert {
            let chain = CertificateDer::pem_slice_iter(self.client_cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client PEM");
            let key =
                PrivateKeyDer::from_pem_slice(self.client_key.as_bytes()).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        Arc::new(config)
    }
}

/// One request over a fresh TLS connection: HTTP/2 when `alpn` is h2, else HTTP/1.1.
async fn tls_request(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    request: http::Request<TestBody>,
) -> Result<Reply, BoxError> {
    let h2 = config.alpn_protocols == [b"h2".to_vec()];
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    // The receiver's provider has the post-quantum hybrid, which rustls' client offers first.
    assert_eq!(
        tls.get_ref()
            .1
            .negotiated_key_exchange_group()
            .map(|g| g.name()),
        Some(rustls::NamedGroup::X25519MLKEM768),
        "post-quantum key exchange"
    );
    if h2 {
        assert_eq!(
            tls.get_ref().1.alpn_protocol(),
            Some(&b"h2"[..]),
            "server agrees on h2"
        );
    }
    let io = TokioIo::new(tls);
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        sender.send_request(request).await?
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        sender.send_request(request).await?
    };
    let (parts, body) = response.into_parts();
    let collected = body.collect().await?;
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        trailers: collected.trailers().cloned(),
        body: collected.to_bytes(),
    })
}

fn http_export(addr: SocketAddr, signal: Signal) -> http::Request<TestBody> {
    http::Request::builder()
        .method("POST")
        .uri(signal.http_path())
        .header("host", format!("localhost:{}", addr.port()))
        .header("content-type", "application/x-protobuf")
        .body(full(sample::request(signal).encode(Encoding::Protobuf)))
        .expect("request")
}

fn grpc_export(addr: SocketAddr, signal: Signal) -> http::Request<TestBody> {
    http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://localhost:{}{}",
            addr.port(),
            signal.grpc_path()
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(full(grpc_body(&sample::request(signal), Compression::None)))
        .expect("request")
}

#[tokio::test]
async fn tls_serves_http1_http2_and_grpc() {
    let pki = pki();
    let sink = MemorySink::new();
    let receiver = start_with(builder().with_sink(sink.clone()).with_tls(pki.server())).await;
    let http_addr = receiver.http_addr().expect("http");
    let grpc_addr = receiver.grpc_addr().expect("grpc");

    let reply = tls_request(
        http_addr,
        pki.client(false, b"http/1.1"),
        http_export(http_addr, Signal::Logs),
    )
    .await
    .expect("HTTP/1.1 over TLS");
    assert_eq!(reply.status, StatusCode::OK);

    // OTLP/HTTP over h2 on the HTTP port.
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("https://localhost:{}/v1/traces", http_addr.port()))
        .header("content-type", "application/x-protobuf")
        .body(full(
            sample::request(Signal::Traces).encode(Encoding::Protobuf),
        ))
        .expect("request");
    let reply = tls_request(http_addr, pki.client(false, b"h2"), request)
        .await
        .expect("h2 over TLS");
    assert_eq!(reply.status, StatusCode::OK);

    let reply = tls_request(
        grpc_addr,
        pki.client(false, b"h2"),
        grpc_export(grpc_addr, Signal::Metrics),
    )
    .await
    .expect("gRPC over TLS");
    let reply = grpc_reply(reply);
    assert_eq!(reply.code, Some(code::OK), "{}", reply.status_message);

    let got: Vec<Signal> = sink.requests().iter().map(|r| r.request.signal()).collect();
    assert_eq!(got, [Signal::Logs, Signal::Traces, Signal::Metrics]);
    assert_eq!(sink.requests()[2].request, sample::request(Signal::Metrics));
}

#[tokio::test]
async fn cleartext_clients_do_not_take_a_tls_server_down() {
    let pki = pki();
    let sink = MemorySink::new();
    let receiver = start_with(builder().with_sink(sink.clone()).with_tls(pki.server())).await;
    let addr = receiver.http_addr().expect("http");
    // Cleartext HTTP against the TLS port fails...
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(full(
            sample::request(Signal::Logs).encode(Encoding::Protobuf),
        ))
        .expect("request");
    let cleartext = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        http1_client().request(request),
    )
    .await
    .expect("the server hangs up rather than waiting");
    assert!(cleartext.is_err(), "{cleartext:?}");
    // ... and TLS still works afterwards.
    let reply = tls_request(
        addr,
        pki.client(false, b"http/1.1"),
        http_export(addr, Signal::Logs),
    )
    .await
    .expect("TLS still served");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(sink.len(), 1);
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let pki = pki();
    let sink = MemorySink::new();
    let tls = pki.server().with_client_ca(pki.ca.clone().into_bytes());
    let receiver = start_with(builder().with_sink(sink.clone()).with_tls(tls)).await;
    let http_addr = receiver.http_addr().expect("http");
    let grpc_addr = receiver.grpc_addr().expect("grpc");

    let reply = tls_request(
        http_addr,
        pki.client(true, b"http/1.1"),
        http_export(http_addr, Signal::Logs),
    )
    .await
    .expect("client with a certificate");
    assert_eq!(reply.status, StatusCode::OK);
    let reply = tls_request(
        grpc_addr,
        pki.client(true, b"h2"),
        grpc_export(grpc_addr, Signal::Profiles),
    )
    .await
    .expect("gRPC client with a certificate");
    assert_eq!(grpc_reply(reply).code, Some(code::OK));

    let refused = tls_request(
        http_addr,
        pki.client(false, b"http/1.1"),
        http_export(http_addr, Signal::Logs),
    )
    .await;
    assert!(
        refused.is_err(),
        "HTTP client without a certificate: {refused:?}"
    );
    let refused = tls_request(
        grpc_addr,
        pki.client(false, b"h2"),
        grpc_export(grpc_addr, Signal::Logs),
    )
    .await;
    assert!(
        refused.is_err(),
        "gRPC client without a certificate: {refused:?}"
    );

    // A certificate from another CA is no better.
    let foreign = Pki {
        ca: pki.ca.clone(),
        // `pki` the variable shadows `pki` the function here.
        ..crate::pki()
    };
    let refused = tls_request(
        http_addr,
        foreign.client(true, b"http/1.1"),
        http_export(http_addr, Signal::Logs),
    )
    .await;
    assert!(
        refused.is_err(),
        "client certificate from another CA: {refused:?}"
    );

    assert_eq!(sink.len(), 2, "only the authenticated requests arrived");
}

#[tokio::test]
async fn bad_tls_material_fails_start() {
    let pki = pki();
    let cases = [
        TlsConfig::new(b"garbage".to_vec(), pki.server_key.clone().into_bytes()),
        TlsConfig::new(pki.server_cert.clone().into_bytes(), b"garbage".to_vec()),
        pki.server().with_client_ca(b"not a CA".to_vec()),
    ];
    for tls in cases {
        let err = builder().with_tls(tls).start().await.expect_err("refused");
        assert!(err.is_tls(), "{err}");
    }
}
