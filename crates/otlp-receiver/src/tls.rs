//! [`TlsConfig`]: the server certificate, and optionally the CA that client certificates must
//! chain to (mutual TLS).

use crate::Error;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::sync::Arc;

/// TLS settings for both listeners, from PEM text.
///
/// ```
/// use otlp_receiver::{Receiver, TlsConfig};
/// # let (cert_pem, key_pem, ca_pem) = (Vec::new(), Vec::new(), Vec::new());
/// let tls = TlsConfig::new(cert_pem, key_pem).with_client_ca(ca_pem);
/// let builder = Receiver::builder().with_tls(tls);
/// ```
///
/// The PEM is parsed when the receiver starts; a bad certificate or key makes
/// [`start`](crate::ReceiverBuilder::start) fail with an error for which
/// [`is_tls`](Error::is_tls) is true.
#[derive(Clone)]
pub struct TlsConfig {
    cert_chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
}

impl TlsConfig {
    /// The server's certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1),
    /// both PEM.
    pub fn new(cert_chain_pem: Vec<u8>, key_pem: Vec<u8>) -> Self {
        TlsConfig {
            cert_chain_pem,
            key_pem,
            client_ca_pem: None,
        }
    }

    /// Requires every client to present a certificate issued by one of the CAs in `ca_pem`
    /// (mutual TLS). Default: client certificates are neither asked for nor checked.
    pub fn with_client_ca(mut self, ca_pem: Vec<u8>) -> Self {
        self.client_ca_pem = Some(ca_pem);
        self
    }

    /// Whether client certificates are required.
    pub fn requires_client_cert(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// Builds the rustls configuration (without ALPN, which differs per listener).
    pub(crate) fn server_config(&self) -> Result<rustls::ServerConfig, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs = CertificateDer::pem_slice_iter(&self.cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::tls("certificate chain", e))?;
        if certs.is_empty() {
            return Err(Error::tls(
                "certificate chain",
                "no CERTIFICATE block in the PEM",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| Error::tls("private key", key_pem_problem(&e)))?;

        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::tls("configuration", e))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca_pem) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca_pem) {
                    let cert = cert.map_err(|e| Error::tls("client CA", e))?;
                    roots.add(cert).map_err(|e| Error::tls("client CA", e))?;
                }
                if roots.is_empty() {
                    return Err(Error::tls("client CA", "no CERTIFICATE block in the PEM"));
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .map_err(|e| Error::tls("client CA", e))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        builder
            .with_single_cert(certs, key)
            .map_err(|e| Error::tls("certificate or key", e))
    }
}

/// What is wrong with a private key's PEM, quoting none of it (rustls-pki-types' own messages
/// quote the offending line, which may be key material).
fn key_pem_problem(e: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error as Pem;
    match e {
        Pem::NoItemsFound => "no PRIVATE KEY block in the PEM",
        Pem::MissingSectionEnd { .. } => "a PEM block has no END line",
        Pem::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        Pem::Base64Decode(_) => "a PEM block is not valid base64",
        Pem::SectionTooLarge => "a PEM block is too large",
        _ => "not valid PEM",
    }
}

impl fmt::Debug for TlsConfig {
    // Never print the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &format_args!("<redacted>"))
            .field("requires_client_cert", &self.requires_client_cert())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (Vec<u8>, Vec<u8>) {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (
            key.cert.pem().into_bytes(),
            key.signing_key.serialize_pem().into_bytes(),
        )
    }

    #[test]
    fn loads_a_certificate_and_key() {
        let (cert, key) = self_signed();
        let config = TlsConfig::new(cert.clone(), key.clone());
        assert!(config.server_config().is_ok());
        let mtls = config.with_client_ca(cert);
        assert!(mtls.requires_client_cert());
        assert!(mtls.server_config().is_ok());
        assert!(!format!("{mtls:?}").contains("PRIVATE"));
    }

    #[test]
    fn rejects_bad_pem_with_a_tls_error() {
        let (cert, key) = self_signed();
        let cases = [
            TlsConfig::new(b"nothing here".to_vec(), key.clone()),
            TlsConfig::new(cert.clone(), b"no key".to_vec()),
            TlsConfig::new(cert.clone(), key.clone()).with_client_ca(Vec::new()),
            // A key that does not belong to the certificate.
            TlsConfig::new(cert, self_signed().1),
        ];
        for config in cases {
            let err = config.server_config().unwrap_err();
            assert!(err.is_tls(), "{err}");
        }
    }
}
