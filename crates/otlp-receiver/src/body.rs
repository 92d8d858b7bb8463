//! Request bodies, the same for every signal and transport: reading within the size limit and
//! the body timeout, decompressing within the size limit, and decoding within the limits on items
//! and decoded size; what each step keeps is counted against the memory limit.

use crate::failure::Failure;
use crate::memory::Permit;
use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;
use http_body::Body;
use http_body_util::BodyExt;
use otlp_proto::compression::DecompressError;
use otlp_proto::{Compression, DecodeErrorKind, DecodeLimits, Encoding, Request, Signal};
use std::fmt;
use std::time::Duration;

/// At most this much of a refused HTTP/1.1 body is read and thrown away.
const DRAIN_LIMIT: usize = 64 << 20;
/// ... and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads a whole body into one `Bytes`, refusing more than `limit` bytes: up front when the
/// `Content-Length` (`declared`) says so, otherwise as soon as the streamed body passes it. A body
/// that has not arrived in full within `timeout` (counted from the call, which is as the request
/// head arrives) is refused too, with HTTP 408 / gRPC `DEADLINE_EXCEEDED`.
///
/// With `drain_rest`, a body refused for its size is read on and discarded (within bounds) before
/// answering: an HTTP/1.1 server that closes a connection with unread data resets it, and the
/// client then sees a broken connection instead of the 413. A body refused for its slowness is
/// not: it would be as slow to drain.
pub(crate) async fn read<B>(
    mut body: B,
    declared: Option<u64>,
    limit: usize,
    drain_rest: bool,
    timeout: Duration,
    permit: &mut Permit,
) -> Result<Bytes, Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: fmt::Display,
{
    if let Some(len) = declared
        && len > limit as u64
    {
        if drain_rest {
            drain(body).await;
        }
        return Err(Failure::too_large(format!(
            "request body of {len} bytes exceeds the limit of {limit} bytes"
        )));
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    let reading = async {
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| Failure::bad_request(format!("cannot read the request body: {e}")))?;
            // Trailers carry nothing OTLP needs.
            let Ok(data) = frame.into_data() else {
                continue;
            };
            total = total.saturating_add(data.len());
            if total > limit {
                return Err(Failure::too_large(format!(
                    "request body exceeds the limit of {limit} bytes"
                )));
            }
            permit.grow(data.len())?;
            if !data.is_empty() {
                chunks.push(data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, reading).await {
        Ok(Ok(())) => Ok(concat(chunks, total)),
        Ok(Err(failure)) => {
            // Refused for its size or for memory: read the rest, so the client sees why.
            let refused = [StatusCode::PAYLOAD_TOO_LARGE, StatusCode::TOO_MANY_REQUESTS];
            if drain_rest && refused.contains(&failure.http) {
                drop(chunks);
                drain(body).await;
            }
            Err(failure)
        }
        Err(_) => Err(Failure::request_timeout(format!(
            "request body not received within {timeout:?}"
        ))),
    }
}

/// One buffer for the whole body; a body that arrived in one chunk is not copied.
fn concat(mut chunks: Vec<Bytes>, total: usize) -> Bytes {
    if chunks.len() <= 1 {
        return chunks.pop().unwrap_or_default();
    }
    let mut buf = BytesMut::with_capacity(total);
    for chunk in chunks {
        buf.extend_from_slice(&chunk);
    }
    buf.freeze()
}

/// Reads and discards what is left of a body, within [`DRAIN_LIMIT`] and [`DRAIN_TIME`].
pub(crate) async fn drain<B: Body + Unpin>(mut body: B) {
    let discard = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                seen = seen.saturating_add(data.remaining());
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// Decompresses `payload`, refusing more than `limit` bytes of output (or of input, when it is
/// not compressed); `permit` then holds the decompressed bytes too.
pub(crate) fn decompress(
    compression: Compression,
    payload: Bytes,
    limit: usize,
    permit: &mut Permit,
) -> Result<Bytes, Failure> {
    let plain = match compression {
        // Decoding straight from the received buffer keeps strings zero-copy.
        Compression::None => payload,
        compressed => match compressed.decompress(&payload, limit) {
            Ok(plain) => Bytes::from(plain),
            Err(DecompressError::TooLarge { limit }) => {
                return Err(Failure::too_large(format!(
                    "request exceeds {limit} bytes after decompression"
                )));
            }
            Err(e) => {
                return Err(Failure::bad_request(format!(
                    "cannot decompress the {compressed} body: {e}"
                )));
            }
        },
    };
    if plain.len() > limit {
        return Err(Failure::too_large(format!(
            "request exceeds the limit of {limit} bytes"
        )));
    }
    if compression != Compression::None {
        permit.grow(plain.len())?;
    }
    Ok(plain)
}

/// Decompresses `payload` (refusing more than `limit` bytes of output) and decodes it within
/// `limits` and what `permit` can still take, which then holds what the request takes.
pub(crate) fn decode(
    signal: Signal,
    encoding: Encoding,
    compression: Compression,
    payload: Bytes,
    limit: usize,
    limits: &DecodeLimits,
    permit: &mut Permit,
) -> Result<Request, Failure> {
    let plain = decompress(compression, payload, limit, permit)?;
    // What is left of the memory limit bounds the decoding too, so that requests decoding at
    // once cannot pass it together.
    let available = permit.available();
    let per_request = limits.max_decoded_bytes();
    let bounded = limits.with_max_decoded_bytes(per_request.min(available));
    match Request::decode_measured(signal, encoding, &plain, &bounded) {
        Ok((request, decoded)) => {
            permit.spent(decoded);
            Ok(request)
        }
        Err(e) => Err(match e.kind() {
            DecodeErrorKind::TooManyItems => Failure::too_large(format!(
                "the {signal} request carries more than {} items, the limit per request",
                limits.max_items()
            )),
            DecodeErrorKind::TooLarge if available < per_request => permit.refusal(),
            DecodeErrorKind::TooLarge => Failure::too_large(format!(
                "the {signal} request decodes to more than {per_request} bytes of memory, \
                 the limit per request"
            )),
            _ => {
                let encoding = match encoding {
                    Encoding::Protobuf => "protobuf",
                    Encoding::Json => "JSON",
                };
                Failure::bad_request(format!(
                    "cannot decode the {signal} request as {encoding}: {e}"
                ))
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryLimiter;
    use http::StatusCode;
    use http_body_util::Full;
    use otlp_proto::grpc::code;
    use std::convert::Infallible;

    fn permit() -> Permit {
        MemoryLimiter::new(usize::MAX).admit().unwrap()
    }

    const SECOND: Duration = Duration::from_secs(1);

    /// A body that arrives in the given chunks, with no declared length.
    struct Chunks(std::collections::VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    fn chunked(parts: &[&'static [u8]]) -> Chunks {
        Chunks(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    #[tokio::test]
    async fn reads_within_the_limit() {
        let body = Full::new(Bytes::from_static(b"hello"));
        assert_eq!(
            read(body, Some(5), 5, false, SECOND, &mut permit())
                .await
                .unwrap(),
            "hello"
        );
    }

    #[tokio::test]
    async fn refuses_a_declared_length_over_the_limit_without_reading() {
        let err = read(
            Full::new(Bytes::new()),
            Some(6),
            5,
            false,
            SECOND,
            &mut permit(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(err.grpc, code::RESOURCE_EXHAUSTED);
        assert!(
            err.message.contains("6 bytes exceeds the limit of 5"),
            "{}",
            err.message
        );
    }

    #[tokio::test]
    async fn streamed_bodies_are_counted_and_joined() {
        let body = chunked(&[b"ab", b"", b"cd"]);
        assert_eq!(
            read(body, None, 4, false, SECOND, &mut permit())
                .await
                .unwrap(),
            "abcd"
        );
        let err = read(
            chunked(&[b"abc", b"de"]),
            None,
            4,
            true,
            SECOND,
            &mut permit(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http, StatusCode::PAYLOAD_TOO_LARGE);
    }

    /// A body that sends `first`, then nothing, ever.
    struct Stalled(Option<Bytes>);

    impl Body for Stalled {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            match self.0.take() {
                Some(first) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(first)))),
                None => std::task::Poll::Pending,
            }
        }
    }

    #[tokio::test]
    async fn a_body_that_stalls_is_a_request_timeout_naming_the_limit() {
        let body = Stalled(Some(Bytes::from_static(b"half")));
        let err = read(
            body,
            Some(8),
            8,
            true,
            Duration::from_millis(50),
            &mut permit(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(err.grpc, code::DEADLINE_EXCEEDED);
        assert_eq!(err.message, "request body not received within 50ms");
    }

    #[test]
    fn zip_bombs_and_garbage_map_to_their_statuses() {
        let mut bomb = Vec::new();
        Compression::Gzip
            .compress(&vec![0u8; 4 << 20], &mut bomb)
            .unwrap();
        let err = decode(
            Signal::Logs,
            Encoding::Protobuf,
            Compression::Gzip,
            bomb.into(),
            1 << 20,
            &DecodeLimits::unlimited(),
            &mut permit(),
        )
        .unwrap_err();
        assert_eq!(err.http, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            err.message,
            "request exceeds 1048576 bytes after decompression"
        );

        let err = decode(
            Signal::Logs,
            Encoding::Protobuf,
            Compression::Zstd,
            Bytes::from_static(b"not zstd"),
            1024,
            &DecodeLimits::unlimited(),
            &mut permit(),
        )
        .unwrap_err();
        assert_eq!(err.grpc, code::INVALID_ARGUMENT);
        assert!(err.message.contains("decompress"), "{}", err.message);

        let err = decode(
            Signal::Metrics,
            Encoding::Json,
            Compression::None,
            Bytes::from_static(b"{\"resourceMetrics\":"),
            1024,
            &DecodeLimits::unlimited(),
            &mut permit(),
        )
        .unwrap_err();
        assert_eq!(err.http, StatusCode::BAD_REQUEST);
        assert!(
            err.message
                .starts_with("cannot decode the metrics request as JSON")
        );

        let err = decode(
            Signal::Traces,
            Encoding::Protobuf,
            Compression::None,
            Bytes::from_static(&[0xff; 8]),
            4,
            &DecodeLimits::unlimited(),
            &mut permit(),
        )
        .unwrap_err();
        assert_eq!(err.http, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn decodes_every_signal() {
        for signal in Signal::ALL {
            let request = decode(
                signal,
                Encoding::Json,
                Compression::None,
                "{}".into(),
                16,
                &DecodeLimits::unlimited(),
                &mut permit(),
            );
            assert_eq!(request.unwrap().signal(), signal);
        }
    }

    /// A logs request of `n` empty records, as protobuf.
    fn empty_records(n: usize) -> Bytes {
        use otlp_proto::collector::ExportLogsServiceRequest;
        use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        Request::Logs(request).encode(Encoding::Protobuf)
    }

    fn decode_records(
        n: usize,
        limits: &DecodeLimits,
        permit: &mut Permit,
    ) -> Result<Request, Failure> {
        let body = empty_records(n);
        decode(
            Signal::Logs,
            Encoding::Protobuf,
            Compression::None,
            body,
            1 << 20,
            limits,
            permit,
        )
    }

    #[test]
    fn requests_over_the_item_or_decoded_size_limit_are_too_large() {
        let items = DecodeLimits::unlimited().with_max_items(100);
        assert!(decode_records(100, &items, &mut permit()).is_ok());
        let err = decode_records(101, &items, &mut permit()).unwrap_err();
        assert_eq!(
            (err.http, err.grpc),
            (StatusCode::PAYLOAD_TOO_LARGE, code::RESOURCE_EXHAUSTED)
        );
        assert_eq!(
            err.message,
            "the logs request carries more than 100 items, the limit per request"
        );
        assert_eq!(err.retry_after, None, "the same request will never fit");

        let bytes = DecodeLimits::unlimited().with_max_decoded_bytes(10_000);
        let err = decode_records(1000, &bytes, &mut permit()).unwrap_err();
        assert_eq!(err.http, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            err.message,
            "the logs request decodes to more than 10000 bytes of memory, the limit per request"
        );
    }

    #[tokio::test]
    async fn what_a_request_holds_counts_against_the_memory_limit() {
        let limiter = MemoryLimiter::new(100_000);
        let mut permit = limiter.admit().unwrap();
        // The body as it arrives...
        let body = read(
            chunked(&[b"abc", b"de"]),
            None,
            10,
            false,
            SECOND,
            &mut permit,
        )
        .await;
        assert_eq!(body.unwrap(), "abcde");
        assert_eq!(limiter.available(), 100_000 - 5);
        // ... and the decoded request: 100 records fit, and are held until the permit drops.
        let unlimited = DecodeLimits::unlimited();
        assert!(decode_records(100, &unlimited, &mut permit).is_ok());
        let held = 100_000 - limiter.available();
        assert!(
            held >= 5 + 100 * size_of::<otlp_proto::logs::LogRecord>(),
            "{held}"
        );
        // A request that would take the rest is refused as retryable, not as too large.
        let err = decode_records(1000, &unlimited, &mut limiter.admit().unwrap()).unwrap_err();
        assert_eq!(
            (err.http, err.grpc),
            (StatusCode::TOO_MANY_REQUESTS, code::RESOURCE_EXHAUSTED)
        );
        assert!(err.retry_after.is_some());
        drop(permit);
        assert_eq!(limiter.available(), 100_000);
        // A body arriving past the limit is refused while it is read.
        let small = MemoryLimiter::new(4);
        let err = read(
            chunked(&[b"abc", b"de"]),
            None,
            10,
            false,
            SECOND,
            &mut small.admit().unwrap(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.http, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(small.available(), 4);
    }
}
