//! [`Error`]: what can go wrong starting, running or exporting a profiler, with its [`Kind`].

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// The configuration cannot be used (a frequency out of range, a zero rate, ...).
    Config,
    /// The platform lacks what the profile type needs (per-thread CPU timers off Linux, the
    /// sampling allocator not installed for heap profiles).
    Unsupported,
    /// The collector is not in the state the call needs (started twice, stopped before start).
    State,
    /// A system call failed (timer, signal handler, thread); the source says which.
    System,
    /// Writing a profile out failed (pprof, flame graph).
    Output,
    /// Exporting through the client failed.
    Export,
}

/// An error of the profiler: its [`Kind`], a message naming the problem, and its source.
pub struct Error {
    kind: Kind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The last OS error, for a failed system call named `call`.
    pub(crate) fn last_os(call: &str) -> Self {
        Error::new(Kind::System, format!("{call} failed"))
            .with_source(std::io::Error::last_os_error())
    }

    /// What kind of error this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<otlp_sdk::Error> for Error {
    fn from(e: otlp_sdk::Error) -> Self {
        Error::new(Kind::Export, "exporting the profile failed").with_source(e)
    }
}
