//! [`EncodedBody`]: an export request encoded once, and its preparation for the wire.

use crate::config::Protocol;
use crate::error::{Error, Kind};
use bytes::Bytes;
use otlp_proto::grpc::{self, FRAME_HEADER_LEN};
use otlp_proto::{Compression, Encoding, Message, Request, RevBuf, Signal};

/// An export request, already encoded: protobuf or OTLP/JSON bytes.
///
/// This is what [`Exporter::export_encoded`](crate::Exporter::export_encoded) sends. Encode with
/// the encoding of the signal's protocol ([`Exporter::encoding`](crate::Exporter::encoding)) and
/// nothing is encoded again: [`EncodedBody::encode`] writes protobuf with a gRPC frame header
/// already in front, so the same bytes serve gRPC as they are and OTLP/HTTP as a slice, and
/// retries re-send them without copying. A body of the other encoding still works, at the cost of
/// decoding and re-encoding it once.
///
/// ```
/// use otlp::EncodedBody;
/// use otlp_proto::{Encoding, Message};
/// use otlp_proto::collector::ExportLogsServiceRequest;
///
/// let request = ExportLogsServiceRequest::default();
/// let body = EncodedBody::encode(&request, Encoding::Protobuf);
/// assert_eq!(body.message(), request.encode_to_bytes());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedBody {
    encoding: Encoding,
    bytes: Bytes,
    /// `bytes` starts with an uncompressed gRPC frame header.
    framed: bool,
}

impl EncodedBody {
    /// Encodes `message` once, in the given encoding. Without the `json` feature,
    /// [`Encoding::Json`] gives a protobuf body (its [`encoding`](EncodedBody::encoding) says
    /// so), as such a build refuses protocol `http/json` and sends protobuf only.
    pub fn encode<M: Message>(message: &M, encoding: Encoding) -> Self {
        match encoding {
            Encoding::Protobuf => EncodedBody::protobuf_sized(message, 0),
            #[cfg(feature = "json")]
            Encoding::Json => EncodedBody::json(Bytes::from(message.to_json())),
            #[cfg(not(feature = "json"))]
            Encoding::Json => EncodedBody::encode(message, Encoding::Protobuf),
        }
    }

    /// Encodes `message` as protobuf into a buffer with room for `len` bytes from the start
    /// (a message that knows a bound of its length, as an OTAP batch does, is then written
    /// without the buffer growing and copying what it holds).
    pub fn protobuf_sized<M: Message>(message: &M, len: usize) -> Self {
        let mut buf = RevBuf::with_capacity(len.saturating_add(grpc::FRAME_HEADER_LEN));
        // Back-to-front encoding makes the frame header free.
        grpc::encode_frame(message, &mut buf);
        EncodedBody {
            encoding: Encoding::Protobuf,
            bytes: buf.into_bytes(),
            framed: true,
        }
    }

    /// Encodes an export request of any signal once, in the given encoding.
    pub fn encode_request(request: &Request, encoding: Encoding) -> Self {
        match request {
            Request::Traces(r) => EncodedBody::encode(r, encoding),
            Request::Metrics(r) => EncodedBody::encode(r, encoding),
            Request::Logs(r) => EncodedBody::encode(r, encoding),
            Request::Profiles(r) => EncodedBody::encode(r, encoding),
        }
    }

    /// A protobuf message written into `buf` by the caller, with the gRPC frame header
    /// prepended here (back-to-front buffers make that free).
    pub(crate) fn framed_from(
        mut buf: RevBuf,
        message_len: usize,
        pool: &std::sync::Arc<crate::buffers::BufferPool>,
    ) -> Self {
        buf.put_slice(&(message_len as u32).to_be_bytes());
        buf.put_u8(0);
        EncodedBody {
            encoding: Encoding::Protobuf,
            bytes: pool.freeze(buf),
            framed: true,
        }
    }

    /// A protobuf message encoded elsewhere. Sending it over gRPC copies it once to add the frame
    /// header; [`EncodedBody::encode`] and [`EncodedBody::grpc_frame`] avoid that copy.
    pub fn protobuf(message: Bytes) -> Self {
        EncodedBody {
            encoding: Encoding::Protobuf,
            bytes: message,
            framed: false,
        }
    }

    /// An OTLP/JSON request encoded elsewhere.
    pub fn json(text: Bytes) -> Self {
        EncodedBody {
            encoding: Encoding::Json,
            bytes: text,
            framed: false,
        }
    }

    /// A protobuf message with an uncompressed gRPC frame header in front, as
    /// [`otlp_proto::grpc::encode_frame`] writes it. Fails when the header is not one.
    pub fn grpc_frame(frame: Bytes) -> Result<Self, Error> {
        match grpc::decode_frame(&frame, usize::MAX) {
            Ok((false, range)) if range.start == FRAME_HEADER_LEN => Ok(EncodedBody {
                encoding: Encoding::Protobuf,
                bytes: frame,
                framed: true,
            }),
            Ok(_) => Err(Error::new(
                Kind::InvalidInput,
                "not an uncompressed gRPC frame",
            )),
            Err(e) => Err(Error::new(
                Kind::InvalidInput,
                format!("invalid gRPC frame: {e}"),
            )),
        }
    }

    /// The encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The encoded message, without any frame header (shares the storage).
    pub fn message(&self) -> Bytes {
        if self.framed {
            self.bytes.slice(FRAME_HEADER_LEN..)
        } else {
            self.bytes.clone()
        }
    }

    /// The length of the encoded message.
    pub fn len(&self) -> usize {
        self.bytes.len() - if self.framed { FRAME_HEADER_LEN } else { 0 }
    }

    /// Whether the encoded message is empty (an empty protobuf request is valid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes to send for `protocol` with `compression`: compressed and framed as needed, in
    /// one pass and without copying when nothing has to change.
    pub(crate) fn into_wire(
        self,
        signal: Signal,
        protocol: Protocol,
        compression: Compression,
    ) -> Result<Bytes, Error> {
        let body = self.transcode(signal, protocol.encoding())?;
        let grpc = protocol.is_grpc();
        match (grpc, compression) {
            (true, Compression::None) if body.framed => Ok(body.bytes),
            (false, Compression::None) => Ok(body.message()),
            _ => {
                let message = body.message();
                let header = if grpc { FRAME_HEADER_LEN } else { 0 };
                let mut out = Vec::with_capacity(header + message.len() / 2 + 64);
                out.resize(header, 0);
                compression.compress(&message, &mut out).map_err(|e| {
                    Error::new(Kind::InvalidInput, format!("compression failed: {e}"))
                })?;
                if grpc {
                    let len = u32::try_from(out.len() - header).map_err(|_| {
                        Error::new(
                            Kind::InvalidInput,
                            "message too large for gRPC (over 4 GiB)",
                        )
                    })?;
                    out[0] = u8::from(compression != Compression::None);
                    out[1..header].copy_from_slice(&len.to_be_bytes());
                }
                Ok(Bytes::from(out))
            }
        }
    }

    /// The body in `encoding`: itself, or decoded and encoded again.
    fn transcode(self, signal: Signal, encoding: Encoding) -> Result<Self, Error> {
        if self.encoding == encoding {
            return Ok(self);
        }
        let request = Request::decode(signal, self.encoding, &self.message()).map_err(|e| {
            Error::new(
                Kind::InvalidInput,
                format!(
                    "the {signal} body does not decode as {:?}: {e}",
                    self.encoding
                ),
            )
        })?;
        Ok(EncodedBody::encode_request(&request, encoding))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};

    fn request() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16].into(),
                        span_id: vec![2; 8].into(),
                        name: "span".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn protobuf_is_encoded_once_for_every_protocol() {
        let req = request();
        let plain = req.encode_to_bytes();
        let body = EncodedBody::encode(&req, Encoding::Protobuf);
        assert_eq!(body.message(), plain);
        assert_eq!(body.len(), plain.len());
        let storage = body.bytes.as_ptr();

        // gRPC without compression: the bytes as they are, header included.
        let grpc = body
            .clone()
            .into_wire(Signal::Traces, Protocol::Grpc, Compression::None)
            .expect("wire");
        assert_eq!(grpc.as_ptr(), storage, "no copy");
        let (compressed, range) = grpc::decode_frame(&grpc, usize::MAX).expect("frame");
        assert!(!compressed);
        assert_eq!(&grpc[range], &plain[..]);

        // OTLP/HTTP without compression: a slice of the same storage.
        let http = body
            .into_wire(Signal::Traces, Protocol::HttpProtobuf, Compression::None)
            .expect("wire");
        assert_eq!(http, plain);
        assert_eq!(
            http.as_ptr(),
            storage.wrapping_add(FRAME_HEADER_LEN),
            "no copy"
        );
    }

    #[test]
    fn compression_frames_grpc_and_not_http() {
        let req = request();
        let plain = req.encode_to_bytes();
        for c in [Compression::Gzip, Compression::Zstd] {
            let body = EncodedBody::encode(&req, Encoding::Protobuf);
            let grpc = body
                .clone()
                .into_wire(Signal::Traces, Protocol::Grpc, c)
                .expect("wire");
            let (compressed, range) = grpc::decode_frame(&grpc, usize::MAX).expect("frame");
            assert!(compressed);
            assert_eq!(
                c.decompress(&grpc[range], 1 << 20).expect("inflates"),
                plain
            );
            let http = body
                .into_wire(Signal::Traces, Protocol::HttpProtobuf, c)
                .expect("wire");
            assert_eq!(c.decompress(&http, 1 << 20).expect("inflates"), plain);
        }
    }

    #[test]
    fn bare_protobuf_gets_a_frame_and_other_encodings_are_transcoded() {
        let req = request();
        let grpc = EncodedBody::protobuf(req.encode_to_bytes())
            .into_wire(Signal::Traces, Protocol::Grpc, Compression::None)
            .expect("wire");
        assert_eq!(
            EncodedBody::grpc_frame(grpc)
                .expect("valid frame")
                .message(),
            req.encode_to_bytes()
        );
        let json = EncodedBody::protobuf(req.encode_to_bytes())
            .into_wire(Signal::Traces, Protocol::HttpJson, Compression::None)
            .expect("wire");
        assert_eq!(
            ExportTraceServiceRequest::from_json(&json).expect("json"),
            req
        );
        let pb = EncodedBody::json(req.to_json().into())
            .into_wire(Signal::Traces, Protocol::HttpProtobuf, Compression::None)
            .expect("wire");
        assert_eq!(
            ExportTraceServiceRequest::decode(&pb).expect("protobuf"),
            req
        );
        let err = EncodedBody::json(Bytes::from_static(b"{nope"))
            .into_wire(Signal::Traces, Protocol::Grpc, Compression::None)
            .expect_err("not JSON");
        assert!(err.is_invalid_input(), "{err}");
        assert!(EncodedBody::grpc_frame(Bytes::from_static(&[1, 0, 0, 0, 0])).is_err());
        assert!(EncodedBody::grpc_frame(Bytes::from_static(&[0, 0, 0, 0, 9])).is_err());
    }
}
