//! [`Failure`]: why a command failed, as one line for a person to read.

use std::fmt;

/// The error that ends a command. `main` prints it as `otlp: error: {message}` on stderr and
/// exits with status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    /// A failure with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }

    /// A failure whose message is `context: cause`.
    pub fn with_cause(context: impl fmt::Display, cause: impl fmt::Display) -> Self {
        Failure(format!("{context}: {cause}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// The result of a command.
pub type Result<T, E = Failure> = std::result::Result<T, E>;
