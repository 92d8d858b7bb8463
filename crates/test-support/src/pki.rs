//! [`Pki`]: a throwaway PKI in a temporary directory, for the TLS tests against our receiver
//! and against the Collector (which reads its certificates from files).

use otlp_receiver::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A CA and certificates it issued, PEM, in memory and as files in [`dir`](Pki::dir):
///
/// | file | what |
/// |---|---|
/// | `ca.pem` | the CA |
/// | `other-ca.pem` | an unrelated CA (trusting it instead is the "wrong CA" case) |
/// | `server.pem`, `server.key` | a server certificate for `localhost` and `127.0.0.1` |
/// | `client.pem`, `client.key` | a client certificate (`client`) |
/// | `expired.pem`, `expired.key` | a server certificate for the same names, expired in 2001 |
/// | `wrong-host.pem`, `wrong-host.key` | a valid server certificate for `wrong.example` only |
///
/// The directory is removed when the value drops.
#[derive(Debug)]
pub struct Pki {
    /// The directory of the files.
    pub dir: PathBuf,
    /// The CA certificate.
    pub ca_pem: Vec<u8>,
    /// The server certificate (localhost, 127.0.0.1).
    pub server_cert_pem: Vec<u8>,
    /// Its private key.
    pub server_key_pem: Vec<u8>,
}

impl Pki {
    /// Makes the certificates and writes the files.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Pki {
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
            params.distinguished_name.push(DnType::CommonName, name);
            let key = KeyPair::generate().expect("key");
            let cert = params.self_signed(&key).expect("self-signed");
            (cert, Issuer::new(params, key))
        };
        let (ca_cert, issuer) = ca("otlp test CA");
        let (other_ca, _) = ca("some other CA");
        // Go's crypto/tls (the Collector) checks extended key usage when present: say it.
        let leaf = |names: &[&str], usage: ExtendedKeyUsagePurpose, expired: bool| {
            let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
            let mut params = CertificateParams::new(names).expect("params");
            params.extended_key_usages = vec![usage];
            if expired {
                params.not_before = rcgen::date_time_ymd(2000, 1, 1);
                params.not_after = rcgen::date_time_ymd(2001, 1, 1);
            }
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &issuer).expect("signed");
            (cert.pem(), key.serialize_pem())
        };
        let server_names = ["localhost", "127.0.0.1"];
        let (server_cert, server_key) =
            leaf(&server_names, ExtendedKeyUsagePurpose::ServerAuth, false);
        let (client_cert, client_key) =
            leaf(&["client"], ExtendedKeyUsagePurpose::ClientAuth, false);
        let (expired_cert, expired_key) =
            leaf(&server_names, ExtendedKeyUsagePurpose::ServerAuth, true);
        let (wrong_cert, wrong_key) = leaf(
            &["wrong.example"],
            ExtendedKeyUsagePurpose::ServerAuth,
            false,
        );

        let write = |name: &str, pem: &str| {
            std::fs::write(dir.join(name), pem).expect("write PEM");
        };
        write("ca.pem", &ca_cert.pem());
        write("other-ca.pem", &other_ca.pem());
        write("server.pem", &server_cert);
        write("server.key", &server_key);
        write("client.pem", &client_cert);
        write("client.key", &client_key);
        write("expired.pem", &expired_cert);
        write("expired.key", &expired_key);
        write("wrong-host.pem", &wrong_cert);
        write("wrong-host.key", &wrong_key);
        Pki {
            dir,
            ca_pem: ca_cert.pem().into_bytes(),
            server_cert_pem: server_cert.into_bytes(),
            server_key_pem: server_key.into_bytes(),
        }
    }

    /// The file `name` of the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Our receiver's TLS settings with the server certificate.
    pub fn server_tls(&self) -> TlsConfig {
        TlsConfig::new(self.server_cert_pem.clone(), self.server_key_pem.clone())
    }

    /// Our receiver's TLS settings with the certificate and key files `name.pem`, `name.key`
    /// (`expired`, `wrong-host`).
    pub fn server_tls_of(&self, name: &str) -> TlsConfig {
        let read = |file: String| std::fs::read(self.path(&file)).expect("read PEM");
        TlsConfig::new(read(format!("{name}.pem")), read(format!("{name}.key")))
    }

    /// The CA file.
    pub fn ca(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// The directory of the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
