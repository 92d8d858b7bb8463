//! rustls client configurations: the trusted roots (the system's, or a CA file), the client
//! certificate for mutual TLS, and ALPN. The aws-lc-rs provider is named explicitly, so nothing
//! depends on a process-wide default provider being installed; it offers the post-quantum hybrid
//! X25519MLKEM768 first (rustls' `prefer-post-quantum`), then X25519 and the NIST curves.

use crate::config::Sourced;
use crate::config::TlsFiles;
use crate::error::Error;
use rustls::{AlertDescription, CertificateError, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::PathBuf;
use std::sync::Arc;

/// A route's TLS client configuration.
pub(crate) type ClientConfig = rustls::ClientConfig;
/// What makes TLS connections from a [`ClientConfig`].
pub(crate) type TlsConnector = tokio_rustls::TlsConnector;
/// The error a TLS failure carries.
pub(crate) type TlsError = rustls::Error;

/// The connector of `config`.
pub(crate) fn connector(config: Arc<ClientConfig>) -> TlsConnector {
    TlsConnector::from(config)
}

/// Why a handshake failed, in words first and rustls' own text after: the reasons a person
/// meets (wrong CA, expired or wrong-host certificate, a server that wants a client
/// certificate) are named plainly.
pub(crate) fn describe(e: &TlsError) -> String {
    let why = match e {
        TlsError::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "the server's certificate is not issued by a trusted CA (unknown issuer)"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server's certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for this host name"
            }
            CertificateError::Revoked => "the server's certificate is revoked",
            CertificateError::BadSignature => "the server's certificate has a bad signature",
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the server's certificate is not for server authentication"
            }
            _ => "the server's certificate was refused",
        },
        TlsError::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate (mutual TLS) and refused the handshake \
             without one"
        }
        TlsError::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied,
        ) => "the server refused the handshake, or our client certificate",
        TlsError::AlertReceived(_) => "the server refused the handshake",
        _ => return e.to_string(),
    };
    format!("{why} ({e})")
}

/// Builds client configurations, loading the system's roots at most once.
#[derive(Default)]
pub(crate) struct TlsBuilder {
    system_roots: Option<Arc<RootCertStore>>,
}

impl TlsBuilder {
    /// A client configuration for `files`, offering `alpn` (`h2` alone for gRPC).
    pub(crate) fn build(
        &mut self,
        files: &TlsFiles,
        alpn: &[&[u8]],
    ) -> Result<Arc<ClientConfig>, Error> {
        let roots = match &files.ca {
            Some(ca) => Arc::new(load_roots(ca)?),
            None => self.system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots);
        let mut config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let chain = load_certs(cert)?;
                let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| {
                    Error::config(format!(
                        "{}: no private key: {}",
                        key.describe("client key"),
                        key_pem_problem(&e)
                    ))
                })?;
                builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                    Error::config(format!(
                        "{} and {} do not make a client identity: {e}",
                        cert.describe("client certificate"),
                        key.describe("client key")
                    ))
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    fn system_roots(&mut self) -> Result<Arc<RootCertStore>, Error> {
        if let Some(roots) = &self.system_roots {
            return Ok(roots.clone());
        }
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            // Every https export would fail verification; say why now instead.
            let why = found
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(Error::config(format!(
                "no trusted root certificates could be loaded from the system ({why}); \
                 set OTEL_EXPORTER_OTLP_CERTIFICATE or ExporterConfig::with_certificate"
            )));
        }
        let roots = Arc::new(roots);
        self.system_roots = Some(roots.clone());
        Ok(roots)
    }
}

/// What is wrong with a private key's PEM, quoting none of it (rustls-pki-types' own messages
/// quote the offending line, which may be key material).
fn key_pem_problem(e: &rustls_pki_types::pem::Error) -> &'static str {
    use rustls_pki_types::pem::Error as Pem;
    match e {
        Pem::NoItemsFound => "the file holds no PRIVATE KEY block",
        Pem::MissingSectionEnd { .. } => "a PEM block has no END line",
        Pem::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        Pem::Base64Decode(_) => "a PEM block is not valid base64",
        Pem::SectionTooLarge => "a PEM block is too large",
        _ => "the file is not valid PEM",
    }
}

fn read(file: &Sourced<PathBuf>) -> Result<Vec<u8>, Error> {
    std::fs::read(&file.value).map_err(|e| {
        Error::config(format!(
            "{}: cannot read the file: {e}",
            file.describe("file")
        ))
        .with_source(e)
    })
}

fn load_certs(file: &Sourced<PathBuf>) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read(file)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::config(format!(
                "{}: invalid PEM: {e}",
                file.describe("certificate")
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::config(format!(
            "{}: no certificate in the file",
            file.describe("certificate")
        )));
    }
    Ok(certs)
}

fn load_roots(file: &Sourced<PathBuf>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(file)? {
        roots.add(cert).map_err(|e| {
            Error::config(format!(
                "{}: unusable CA certificate: {e}",
                file.describe("certificate")
            ))
        })?;
    }
    Ok(roots)
}
