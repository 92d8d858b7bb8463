//! [`Request`]: an export request of any signal, for code that handles all four alike.

use crate::collector::*;
use crate::error::DecodeError;
use crate::message::decode_measured;
use crate::signal::{ExportRequest, Signal};
use crate::{DecodeLimits, Message, RevBuf};
use bytes::Bytes;

/// How a request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary protobuf (`application/x-protobuf`, and gRPC).
    Protobuf,
    /// OTLP/JSON (`application/json`): encoded and decoded with the `json` feature (default);
    /// without it, decoding it is an [`Unsupported`](crate::DecodeErrorKind::Unsupported) error.
    Json,
}

impl Encoding {
    /// The HTTP content type.
    pub const fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// Whether this build encodes and decodes it: OTLP/JSON is the `json` feature.
    pub const fn is_available(self) -> bool {
        match self {
            Encoding::Protobuf => true,
            Encoding::Json => cfg!(feature = "json"),
        }
    }
}

/// The error of decoding OTLP/JSON in a build without it.
#[cfg(not(feature = "json"))]
pub(crate) fn json_unavailable() -> DecodeError {
    DecodeError::new(
        crate::DecodeErrorKind::Unsupported,
        0,
        "OTLP/JSON needs the `json` feature of otlp-proto",
    )
}

/// An export request of any signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Spans.
    Traces(ExportTraceServiceRequest),
    /// Metrics.
    Metrics(ExportMetricsServiceRequest),
    /// Log records.
    Logs(ExportLogsServiceRequest),
    /// Profiles.
    Profiles(ExportProfilesServiceRequest),
}

macro_rules! each {
    ($self:expr, |$r:ident| $e:expr) => {
        match $self {
            Request::Traces($r) => $e,
            Request::Metrics($r) => $e,
            Request::Logs($r) => $e,
            Request::Profiles($r) => $e,
        }
    };
}

impl Request {
    /// The signal carried.
    pub fn signal(&self) -> Signal {
        match self {
            Request::Traces(_) => Signal::Traces,
            Request::Metrics(_) => Signal::Metrics,
            Request::Logs(_) => Signal::Logs,
            Request::Profiles(_) => Signal::Profiles,
        }
    }

    /// Decodes a body of the given signal and encoding, limited only in nesting depth (see
    /// [`Request::decode_with`] for input from anyone).
    pub fn decode(signal: Signal, encoding: Encoding, body: &Bytes) -> Result<Self, DecodeError> {
        Request::decode_with(signal, encoding, body, &DecodeLimits::unlimited())
    }

    /// Decodes a body of the given signal and encoding, stopping as soon as it carries more
    /// items or decodes to more memory than `limits` allow.
    pub fn decode_with(
        signal: Signal,
        encoding: Encoding,
        body: &Bytes,
        limits: &DecodeLimits,
    ) -> Result<Self, DecodeError> {
        Request::decode_measured(signal, encoding, body, limits).map(|(request, _)| request)
    }

    /// [`Request::decode_with`], also returning the decoded bytes it counted: what the request
    /// takes in memory beyond `body` (for a server accounting what its requests hold).
    pub fn decode_measured(
        signal: Signal,
        encoding: Encoding,
        body: &Bytes,
        limits: &DecodeLimits,
    ) -> Result<(Self, usize), DecodeError> {
        fn dec<M: Message>(
            encoding: Encoding,
            body: &Bytes,
            limits: &DecodeLimits,
            wrap: fn(M) -> Request,
        ) -> Result<(Request, usize), DecodeError> {
            let (m, spent) = decode_measured(encoding, body, limits)?;
            Ok((wrap(m), spent))
        }
        match signal {
            Signal::Traces => dec(encoding, body, limits, Request::Traces),
            Signal::Metrics => dec(encoding, body, limits, Request::Metrics),
            Signal::Logs => dec(encoding, body, limits, Request::Logs),
            Signal::Profiles => dec(encoding, body, limits, Request::Profiles),
        }
    }

    /// Encodes the request (OTLP/JSON needs the `json` feature; protobuf alone is
    /// [`Request::encode_to_bytes`]).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn encode(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Protobuf => self.encode_to_bytes(),
            Encoding::Json => Bytes::from(self.to_json()),
        }
    }

    /// Encodes as protobuf.
    pub fn encode_to_bytes(&self) -> Bytes {
        each!(self, |r| r.encode_to_bytes())
    }

    /// Encodes as protobuf into `buf` (in front of what it holds).
    pub fn encode_into(&self, buf: &mut RevBuf) {
        each!(self, |r| r.encode(buf))
    }

    /// The request as OTLP/JSON.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn to_json(&self) -> Vec<u8> {
        each!(self, |r| r.to_json())
    }

    /// Items carried: spans, data points, log records or profiles.
    pub fn item_count(&self) -> usize {
        each!(self, |r| r.item_count())
    }

    /// Resource entries carried (`resourceSpans`, `resourceMetrics`, `resourceLogs` or
    /// `resourceProfiles`): 0 for an empty request, such as an empty body or `{}`.
    pub fn resource_count(&self) -> usize {
        match self {
            Request::Traces(r) => r.resource_spans.len(),
            Request::Metrics(r) => r.resource_metrics.len(),
            Request::Logs(r) => r.resource_logs.len(),
            Request::Profiles(r) => r.resource_profiles.len(),
        }
    }
}

macro_rules! from_request {
    ($t:ty, $v:ident) => {
        impl From<$t> for Request {
            fn from(r: $t) -> Self {
                Request::$v(r)
            }
        }
    };
}
from_request!(ExportTraceServiceRequest, Traces);
from_request!(ExportMetricsServiceRequest, Metrics);
from_request!(ExportLogsServiceRequest, Logs);
from_request!(ExportProfilesServiceRequest, Profiles);
