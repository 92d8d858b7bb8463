//! Shared by the integration tests: a receiver on free ports with any sink, exporter
//! configurations pointing at it (`test_support::client`'s), and a throwaway PKI for the TLS
//! tests. The requests they send are `otlp_proto::sample`'s.

// Each test file uses part of this module.
#![allow(dead_code, unused_imports)]

pub mod child;
pub mod pipeline;

use otlp::Protocol;
use otlp_receiver::{Receiver, RunningReceiver, Sink, TlsConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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
