//! A build without the `tls` feature: no TLS types, and an `https` endpoint refused when the
//! exporter is built, with the feature named.

use crate::config::TlsFiles;
use crate::error::Error;
use std::fmt;
use std::sync::Arc;

/// What no value has: the TLS types of this build.
#[derive(Debug, Clone)]
pub(crate) enum NoTls {}

impl fmt::Display for NoTls {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

impl std::error::Error for NoTls {}

/// No TLS client configuration exists in this build.
pub(crate) type ClientConfig = NoTls;
/// No TLS connector exists in this build.
pub(crate) type TlsConnector = NoTls;
/// No TLS error exists in this build.
pub(crate) type TlsError = NoTls;

/// Unreachable: there is no TLS error to describe.
pub(crate) fn describe(e: &TlsError) -> String {
    match *e {}
}

/// Unreachable: there is no configuration to make a connector of.
pub(crate) fn connector(config: Arc<ClientConfig>) -> TlsConnector {
    match *config {}
}

/// Refuses every TLS configuration.
#[derive(Default)]
pub(crate) struct TlsBuilder {
    _none: (),
}

impl TlsBuilder {
    pub(crate) fn build(
        &mut self,
        _files: &TlsFiles,
        _alpn: &[&[u8]],
    ) -> Result<Arc<ClientConfig>, Error> {
        Err(Error::config(
            "an https endpoint needs TLS, which this build lacks: enable the `tls` feature of \
             otlp (or export to an http endpoint)",
        ))
    }
}
