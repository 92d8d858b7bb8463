//! [`RequestSummary`]: what a request observer is told about each export request.

use crate::Transport;
use otlp_proto::{Compression, Encoding, Signal};
use std::fmt;
use std::sync::Arc;

/// One export request, as the observer set with
/// [`with_request_observer`](crate::ReceiverBuilder::with_request_observer) sees it once it has
/// been answered.
///
/// Reported for every request addressed to an OTLP endpoint whose content type and compression
/// the server understands; requests refused before that (unknown path or method, unsupported
/// content type or encoding) are not reported, since they have no signal or encoding to report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestSummary {
    /// The signal of the endpoint.
    pub signal: Signal,
    /// The transport.
    pub transport: Transport,
    /// Protobuf or JSON.
    pub encoding: Encoding,
    /// The body's compression.
    pub compression: Compression,
    /// Items decoded (0 if the body did not decode).
    pub items: usize,
    /// Body size as received (0 if it could not be read).
    pub wire_bytes: usize,
    /// Items the sink rejected in a partial success.
    pub rejected: i64,
    /// `Ok` if the request was accepted (possibly partially), otherwise the status sent
    /// (`"413 Payload Too Large: ..."`, `"UNAVAILABLE: ..."`).
    pub outcome: Result<(), String>,
}

impl fmt::Display for RequestSummary {
    /// One line: `traces grpc protobuf gzip items=3 bytes=412 ok`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoding = match self.encoding {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        };
        write!(
            f,
            "{} {} {} {} items={} bytes={}",
            self.signal, self.transport, encoding, self.compression, self.items, self.wire_bytes
        )?;
        match &self.outcome {
            Ok(()) if self.rejected > 0 => write!(f, " partial rejected={}", self.rejected),
            Ok(()) => f.write_str(" ok"),
            Err(e) => write!(f, " error: {e}"),
        }
    }
}

/// The observer callback, shared by every connection.
pub(crate) type Observer = Arc<dyn Fn(&RequestSummary) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_one_line() {
        let mut s = RequestSummary {
            signal: Signal::Traces,
            transport: Transport::Grpc,
            encoding: Encoding::Protobuf,
            compression: Compression::Gzip,
            items: 3,
            wire_bytes: 412,
            rejected: 0,
            outcome: Ok(()),
        };
        assert_eq!(
            s.to_string(),
            "traces grpc protobuf gzip items=3 bytes=412 ok"
        );
        s.rejected = 1;
        assert!(s.to_string().ends_with(" partial rejected=1"));
        s.outcome = Err("UNAVAILABLE: busy".into());
        assert!(s.to_string().ends_with(" error: UNAVAILABLE: busy"));
    }
}
