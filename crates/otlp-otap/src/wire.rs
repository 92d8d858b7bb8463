//! The OTAP wire messages of `opentelemetry.proto.experimental.arrow.v1` (`arrow_service.proto`),
//! declared with `otlp-proto`'s [`message!`](otlp_proto::message!) macro: the same protobuf (and
//! JSON) codec as every OTLP message, through the [`Message`](otlp_proto::Message) trait.
//!
//! ```
//! use otlp_otap::{ArrowPayload, ArrowPayloadType, BatchArrowRecords};
//! use otlp_proto::Message;
//!
//! let batch = BatchArrowRecords {
//!     batch_id: 7,
//!     arrow_payloads: vec![ArrowPayload::new("0", ArrowPayloadType::Spans, vec![1, 2, 3].into())],
//!     ..Default::default()
//! };
//! let wire = batch.encode_to_bytes();
//! let back = BatchArrowRecords::decode(&wire).expect("our own bytes decode");
//! assert_eq!(back, batch);
//! assert_eq!(back.arrow_payloads[0].payload_type(), Some(ArrowPayloadType::Spans));
//! ```

use bytes::Bytes;
use otlp_proto::{Signal, Str, message};

/// The gRPC methods of the three Arrow services, each with the signal its stream carries.
pub const METHODS: [(&str, Signal); 3] = [
    (
        "/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces",
        Signal::Traces,
    ),
    (
        "/opentelemetry.proto.experimental.arrow.v1.ArrowLogsService/ArrowLogs",
        Signal::Logs,
    ),
    (
        "/opentelemetry.proto.experimental.arrow.v1.ArrowMetricsService/ArrowMetrics",
        Signal::Metrics,
    ),
];

/// The gRPC method of `signal`'s Arrow service; `None` for profiles, which OTAP does not carry.
pub fn grpc_method(signal: Signal) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|(_, s)| *s == signal)
        .map(|&(method, _)| method)
}

/// The signal whose Arrow service `path` calls, if it is one of [`METHODS`].
pub fn signal_of_method(path: &str) -> Option<Signal> {
    METHODS
        .iter()
        .find(|(method, _)| *method == path)
        .map(|&(_, signal)| signal)
}

message! {
    /// One batch of a stream: the Arrow IPC payloads of one export request, root payload first.
    BatchArrowRecords {
        /// The batch's id, unique within its gRPC stream; the [`BatchStatus`] that answers it
        /// carries the same id.
        batch_id: i64 = 1 => int64 "batchId";
        /// One payload per non-empty table of the request.
        arrow_payloads: Vec<ArrowPayload> = 2 => repeated "arrowPayloads";
        /// HPACK-encoded HTTP/2 headers for this batch; empty means the stream's own metadata.
        headers: Bytes = 3 => bytes "headers";
    }
}

message! {
    /// One table of a batch, as the next bytes of its Arrow IPC stream.
    ArrowPayload {
        /// Names the IPC stream the bytes continue: a new id starts a new stream (schema first).
        schema_id: Str = 1 => string "schemaId";
        /// Which table this is, an [`ArrowPayloadType`] as an integer.
        r#type: i32 = 2 => enumeration "type";
        /// Arrow IPC stream bytes: a schema message the first time, then dictionary batches
        /// and exactly one record batch.
        record: Bytes = 3 => bytes "record";
    }
}

message! {
    /// The receiver's answer to one [`BatchArrowRecords`]; answers may arrive out of order.
    BatchStatus {
        /// The id of the batch answered.
        batch_id: i64 = 1 => int64 "batchId";
        /// A [`StatusCode`] as an integer.
        status_code: i32 = 2 => enumeration "statusCode";
        /// Why, when the code is not OK.
        status_message: Str = 3 => string "statusMessage";
    }
}

impl BatchArrowRecords {
    /// At least the length of the batch's protobuf encoding: its payloads' bytes and the most
    /// a field's tag and length can take. Sizing the output buffer with it writes the batch
    /// in one allocation instead of growing the buffer, copying what it holds, as it fills.
    pub fn encoded_len_bound(&self) -> usize {
        // A tag and the longest varint (a length, the batch id, the payload type).
        const FIELD: usize = 1 + 10;
        let payloads: usize = self
            .arrow_payloads
            .iter()
            .map(|p| 4 * FIELD + p.schema_id.len() + p.record.len())
            .sum();
        2 * FIELD + self.headers.len() + payloads
    }
}

impl ArrowPayload {
    /// A payload of table `kind` continuing (or starting) the IPC stream `schema_id`.
    pub fn new(schema_id: impl Into<Str>, kind: ArrowPayloadType, record: Bytes) -> Self {
        ArrowPayload {
            schema_id: schema_id.into(),
            r#type: kind as i32,
            record,
        }
    }

    /// The table this payload holds, or `None` for a value this crate does not know.
    pub fn payload_type(&self) -> Option<ArrowPayloadType> {
        ArrowPayloadType::from_i32(self.r#type)
    }
}

impl BatchStatus {
    /// The status code, or `None` for a value this crate does not know.
    pub fn code(&self) -> Option<StatusCode> {
        StatusCode::from_i32(self.status_code)
    }
}

/// Defines a `#[repr(i32)]` enum with `from_i32`, `as_str_name` and the list of its values.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $value:literal => $proto:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name {
            $($(#[$vm])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value numbered `v`, if there is one.
            pub fn from_i32(v: i32) -> Option<Self> {
                match v {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The name the proto file gives the value.
            pub fn as_str_name(self) -> &'static str {
                match self {
                    $($name::$variant => $proto,)+
                }
            }
        }
    };
}

wire_enum! {
    /// Which table an [`ArrowPayload`] holds. The root tables (the ones the others hang off)
    /// are [`Spans`](Self::Spans), [`Logs`](Self::Logs) and
    /// [`UnivariateMetrics`](Self::UnivariateMetrics).
    ArrowPayloadType {
        /// Not set.
        Unknown = 0 => "UNKNOWN",
        /// Resource attributes, keyed by the root table's `resource.id`.
        ResourceAttrs = 1 => "RESOURCE_ATTRS",
        /// Scope attributes, keyed by the root table's `scope.id`.
        ScopeAttrs = 2 => "SCOPE_ATTRS",
        /// Metrics (root).
        UnivariateMetrics = 10 => "UNIVARIATE_METRICS",
        /// Number data points.
        NumberDataPoints = 11 => "NUMBER_DATA_POINTS",
        /// Summary data points.
        SummaryDataPoints = 12 => "SUMMARY_DATA_POINTS",
        /// Histogram data points.
        HistogramDataPoints = 13 => "HISTOGRAM_DATA_POINTS",
        /// Exponential histogram data points.
        ExpHistogramDataPoints = 14 => "EXP_HISTOGRAM_DATA_POINTS",
        /// Number data point attributes.
        NumberDpAttrs = 15 => "NUMBER_DP_ATTRS",
        /// Summary data point attributes.
        SummaryDpAttrs = 16 => "SUMMARY_DP_ATTRS",
        /// Histogram data point attributes.
        HistogramDpAttrs = 17 => "HISTOGRAM_DP_ATTRS",
        /// Exponential histogram data point attributes.
        ExpHistogramDpAttrs = 18 => "EXP_HISTOGRAM_DP_ATTRS",
        /// Number data point exemplars.
        NumberDpExemplars = 19 => "NUMBER_DP_EXEMPLARS",
        /// Histogram data point exemplars.
        HistogramDpExemplars = 20 => "HISTOGRAM_DP_EXEMPLARS",
        /// Exponential histogram data point exemplars.
        ExpHistogramDpExemplars = 21 => "EXP_HISTOGRAM_DP_EXEMPLARS",
        /// Number data point exemplar attributes.
        NumberDpExemplarAttrs = 22 => "NUMBER_DP_EXEMPLAR_ATTRS",
        /// Histogram data point exemplar attributes.
        HistogramDpExemplarAttrs = 23 => "HISTOGRAM_DP_EXEMPLAR_ATTRS",
        /// Exponential histogram data point exemplar attributes.
        ExpHistogramDpExemplarAttrs = 24 => "EXP_HISTOGRAM_DP_EXEMPLAR_ATTRS",
        /// Multivariate metrics (the Go decoder rejects them).
        MultivariateMetrics = 25 => "MULTIVARIATE_METRICS",
        /// Metric attributes (the Go decoder rejects them).
        MetricAttrs = 26 => "METRIC_ATTRS",
        /// Log records (root).
        Logs = 30 => "LOGS",
        /// Log record attributes.
        LogAttrs = 31 => "LOG_ATTRS",
        /// Spans (root).
        Spans = 40 => "SPANS",
        /// Span attributes.
        SpanAttrs = 41 => "SPAN_ATTRS",
        /// Span events.
        SpanEvents = 42 => "SPAN_EVENTS",
        /// Span links.
        SpanLinks = 43 => "SPAN_LINKS",
        /// Span event attributes.
        SpanEventAttrs = 44 => "SPAN_EVENT_ATTRS",
        /// Span link attributes.
        SpanLinkAttrs = 45 => "SPAN_LINK_ATTRS",
    }
}

wire_enum! {
    /// A [`BatchStatus`] code, numbered as gRPC status codes are.
    StatusCode {
        /// The batch was accepted.
        Ok = 0 => "OK",
        /// The receiver stopped before handling it.
        Canceled = 1 => "CANCELED",
        /// The batch is invalid: retrying it cannot succeed.
        InvalidArgument = 3 => "INVALID_ARGUMENT",
        /// The receiver ran out of time.
        DeadlineExceeded = 4 => "DEADLINE_EXCEEDED",
        /// Not allowed.
        PermissionDenied = 7 => "PERMISSION_DENIED",
        /// The receiver is over a limit (memory, admission).
        ResourceExhausted = 8 => "RESOURCE_EXHAUSTED",
        /// Aborted.
        Aborted = 10 => "ABORTED",
        /// The receiver failed.
        Internal = 13 => "INTERNAL",
        /// Temporarily unable: retry.
        Unavailable = 14 => "UNAVAILABLE",
        /// Missing or bad credentials.
        Unauthenticated = 16 => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::Message;

    #[test]
    fn the_length_bound_is_never_below_the_encoding() {
        let payload = |id: String, kind, n: usize| ArrowPayload {
            schema_id: id.into(),
            r#type: kind,
            record: Bytes::from(vec![7u8; n]),
        };
        let batches = [
            BatchArrowRecords::default(),
            BatchArrowRecords {
                // The longest varints: a negative id and an unknown negative type.
                batch_id: -1,
                arrow_payloads: vec![
                    payload(String::new(), -1, 0),
                    payload("s".into(), i32::MIN, 1),
                ],
                headers: Bytes::from(vec![1u8; 200]),
            },
            BatchArrowRecords {
                batch_id: i64::MAX,
                arrow_payloads: (0..40)
                    .map(|i| payload("x".repeat(i), i as i32, 1 << (i % 20)))
                    .collect(),
                headers: Bytes::new(),
            },
        ];
        for batch in &batches {
            let len = batch.encode_to_bytes().len();
            let bound = batch.encoded_len_bound();
            assert!(bound >= len, "bound {bound} < {len}");
            assert!(
                bound <= len + 64 + 44 * batch.arrow_payloads.len(),
                "bound {bound} far above {len}"
            );
        }
    }

    #[test]
    fn field_numbers_and_wire_types_are_the_protos() {
        let batch = BatchArrowRecords {
            batch_id: 1,
            arrow_payloads: vec![ArrowPayload::new(
                "a",
                ArrowPayloadType::SpanAttrs,
                Bytes::from_static(b"x"),
            )],
            headers: Bytes::from_static(b"h"),
        };
        // 08 01 | 12 len [0a 01 'a' | 10 29 | 1a 01 'x'] | 1a 01 'h'
        let want = [
            0x08, 1, 0x12, 8, 0x0a, 1, b'a', 0x10, 41, 0x1a, 1, b'x', 0x1a, 1, b'h',
        ];
        assert_eq!(&batch.encode_to_bytes()[..], &want[..]);
        let status = BatchStatus {
            batch_id: 2,
            status_code: StatusCode::Unavailable as i32,
            status_message: "busy".into(),
        };
        let want = [0x08, 2, 0x10, 14, 0x1a, 4, b'b', b'u', b's', b'y'];
        assert_eq!(&status.encode_to_bytes()[..], &want[..]);
        assert_eq!(
            BatchStatus::decode(&Bytes::copy_from_slice(&want)).expect("valid"),
            status
        );
    }

    #[test]
    fn enums_round_trip_their_numbers_and_reject_others() {
        for &t in ArrowPayloadType::ALL {
            assert_eq!(ArrowPayloadType::from_i32(t as i32), Some(t));
        }
        for &c in StatusCode::ALL {
            assert_eq!(StatusCode::from_i32(c as i32), Some(c));
        }
        assert_eq!(ArrowPayloadType::from_i32(3), None);
        assert_eq!(StatusCode::from_i32(2), None);
        assert_eq!(ArrowPayloadType::Spans.as_str_name(), "SPANS");
    }

    #[test]
    fn malformed_bytes_are_an_error() {
        for bad in [&[0x12, 9, 0x0a][..], &[0x08], &[0x0f, 0x00], &[0x12, 0x80]] {
            assert!(
                BatchArrowRecords::decode(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
