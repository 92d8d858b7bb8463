//! rustls client configurations: the trusted roots (the system's, or a CA file), the client
//! certificate for mutual TLS, and ALPN. The `ring` provider is used explicitly, so nothing
//! depends on a process-wide default provider being installed.

use crate::config::Sourced;
use crate::config::TlsFiles;
use crate::error::Error;
use rustls::RootCertStore;
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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots);
        let mut config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let chain = load_certs(cert)?;
                let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| {
                    Error::config(format!(
                        "{}: no private key: {e}",
                        key.describe("client key")
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
