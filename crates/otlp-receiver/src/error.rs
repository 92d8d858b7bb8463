//! [`Error`]: why a receiver or a sink could not be set up.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error of this crate: a listener that could not be bound, TLS material that does not load,
/// a file a sink cannot write, or a configuration that makes no sense.
///
/// Use the `is_*` predicates to tell them apart; the [`Display`](fmt::Display) text names what
/// failed and why.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: Option<BoxError>,
}

#[derive(Debug)]
enum Kind {
    Bind(SocketAddr),
    Tls(&'static str),
    Io(PathBuf),
    Config(&'static str),
}

impl Error {
    pub(crate) fn bind(addr: SocketAddr, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Bind(addr),
            source: Some(source.into()),
        }
    }

    /// `what` names the TLS input that was rejected ("certificate chain", "private key", ...).
    pub(crate) fn tls(what: &'static str, source: impl Into<BoxError>) -> Self {
        Error {
            kind: Kind::Tls(what),
            source: Some(source.into()),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error {
            kind: Kind::Io(path.to_owned()),
            source: Some(source.into()),
        }
    }

    pub(crate) fn config(message: &'static str) -> Self {
        Error {
            kind: Kind::Config(message),
            source: None,
        }
    }

    /// Whether a listening socket could not be bound (address in use, permission denied, ...).
    pub fn is_bind(&self) -> bool {
        matches!(self.kind, Kind::Bind(_))
    }

    /// Whether the TLS certificates, key or client CA could not be loaded.
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, Kind::Tls(_))
    }

    /// Whether a file or directory could not be created or written.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io(_))
    }

    /// Whether the configuration is inconsistent (for example, both transports disabled).
    pub fn is_config(&self) -> bool {
        matches!(self.kind, Kind::Config(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bind(addr) => write!(f, "cannot listen on {addr}")?,
            Kind::Tls(what) => write!(f, "invalid TLS {what}")?,
            Kind::Io(path) => write!(f, "cannot write {}", path.display())?,
            Kind::Config(message) => f.write_str(message)?,
        }
        // The cause is part of the message: callers mostly print one line.
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_and_messages() {
        let addr: SocketAddr = ([127, 0, 0, 1], 4317).into();
        let e = Error::bind(addr, std::io::Error::other("in use"));
        assert!(e.is_bind() && !e.is_tls() && !e.is_io() && !e.is_config());
        assert_eq!(e.to_string(), "cannot listen on 127.0.0.1:4317: in use");
        assert!(std::error::Error::source(&e).is_some());

        let e = Error::tls("private key", "no key found");
        assert!(e.is_tls());
        assert_eq!(e.to_string(), "invalid TLS private key: no key found");

        let e = Error::config("both transports are disabled");
        assert!(e.is_config());
        assert!(std::error::Error::source(&e).is_none());

        let e = Error::io(
            Path::new("/x/traces.jsonl"),
            std::io::Error::other("denied"),
        );
        assert!(e.is_io());
        assert_eq!(e.to_string(), "cannot write /x/traces.jsonl: denied");
    }
}
