//! OTLP/HTTP: the request headers, and reading the answer (partial success, or an error status
//! with a `google.rpc.Status` body and `Retry-After`).

use super::{Delivered, base_headers, collect, partial_success};
use crate::config::SignalConfig;
use crate::error::{Error, Kind, Status};
use crate::retry::{is_retryable_http, parse_retry_after};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response};
use hyper::body::Incoming;
use otlp_proto::{Compression, Encoding, Message, Signal, rpc};
use std::time::SystemTime;

/// The longest part of a plain-text error body kept as the server's message.
const MAX_TEXT: usize = 1024;

/// The headers of every request of this route.
pub(super) fn headers(sc: &SignalConfig) -> HeaderMap {
    let mut map = base_headers(sc);
    let encoding = sc.protocol().encoding();
    map.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if let Some(token) = sc.compression().encoding_token() {
        map.insert(CONTENT_ENCODING, HeaderValue::from_static(token));
    }
    map
}

pub(super) async fn read_response(
    signal: Signal,
    sent: Encoding,
    response: Response<Incoming>,
) -> Result<Delivered, Error> {
    let status = response.status();
    let headers = response.headers().clone();
    let (body, _) = collect(response).await?;
    let body = decompress(&headers, body);
    let encoding = response_encoding(&headers, sent);
    if status.is_success() {
        // The data was accepted; an unreadable body only loses the partial-success details.
        return Ok(body
            .and_then(|b| partial_success(signal, encoding, &b).ok())
            .unwrap_or_default());
    }
    let details = body.as_ref().and_then(|b| error_details(b, encoding));
    let message = details
        .as_ref()
        .map(|d| d.message.to_string())
        .filter(|m| !m.is_empty())
        .or_else(|| body.as_ref().and_then(text));
    let err = Error::new(Kind::Status, format!("server answered HTTP {status}"))
        .with_status(Status::Http(status), message);
    if !is_retryable_http(status) {
        return Err(err);
    }
    let delay = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
        .or_else(|| details.as_ref().and_then(rpc::Status::retry_delay));
    Err(err.retryable().with_retry_after(delay))
}

/// The body without its `Content-Encoding`, or `None` when it cannot be decoded.
fn decompress(headers: &HeaderMap, body: Bytes) -> Option<Bytes> {
    let Some(token) = headers.get(CONTENT_ENCODING) else {
        return Some(body);
    };
    match Compression::from_encoding_token(token.to_str().ok()?)? {
        Compression::None => Some(body),
        c => c
            .decompress(&body, super::MAX_RESPONSE)
            .ok()
            .map(Bytes::from),
    }
}

/// How the server encoded its answer: its `Content-Type`, else the encoding of the request.
fn response_encoding(headers: &HeaderMap, sent: Encoding) -> Encoding {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("application/json") {
        Encoding::Json
    } else if ct.starts_with("application/x-protobuf") || ct.starts_with("application/protobuf") {
        Encoding::Protobuf
    } else {
        sent
    }
}

/// The `google.rpc.Status` an OTLP/HTTP server puts in an error body, if the body is one.
fn error_details(body: &Bytes, encoding: Encoding) -> Option<rpc::Status> {
    if body.is_empty() {
        return None;
    }
    rpc::Status::decode_as(encoding, body)
        .ok()
        .filter(|s| !s.message.is_empty() || !s.details.is_empty())
}

/// A plain-text error body, shortened, if it is printable text.
fn text(body: &Bytes) -> Option<String> {
    let s = std::str::from_utf8(body).ok()?.trim();
    if s.is_empty() || s.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return None;
    }
    let end = s.char_indices().nth(MAX_TEXT).map_or(s.len(), |(i, _)| i);
    Some(s[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn error_bodies_give_the_server_message() {
        let status = rpc::Status {
            code: 3,
            message: "bad span".into(),
            details: vec![],
        };
        let pb = status.encode_to_bytes();
        assert_eq!(
            error_details(&pb, Encoding::Protobuf).map(|s| s.message.to_string()),
            Some("bad span".into())
        );
        let json = Bytes::from(status.to_json());
        assert_eq!(
            error_details(&json, Encoding::Json).map(|s| s.message.to_string()),
            Some("bad span".into())
        );
        let delayed = rpc::Status::with_retry_delay(14, "busy", Duration::from_secs(2));
        let d = error_details(&delayed.encode_to_bytes(), Encoding::Protobuf).expect("status");
        assert_eq!(d.retry_delay(), Some(Duration::from_secs(2)));
        assert_eq!(
            text(&Bytes::from_static(b"  upstream down \n")).as_deref(),
            Some("upstream down")
        );
        assert_eq!(text(&Bytes::from_static(b"\x00\x01")), None);
        assert_eq!(
            text(&Bytes::from(vec![b'a'; 5000])).map(|s| s.len()),
            Some(MAX_TEXT)
        );
    }

    #[test]
    fn response_encoding_follows_content_type() {
        let mut h = HeaderMap::new();
        assert_eq!(response_encoding(&h, Encoding::Json), Encoding::Json);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        assert_eq!(response_encoding(&h, Encoding::Json), Encoding::Protobuf);
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(response_encoding(&h, Encoding::Protobuf), Encoding::Json);
    }

    #[test]
    fn compressed_bodies_are_decoded() {
        let mut z = Vec::new();
        Compression::Gzip
            .compress(b"hello", &mut z)
            .expect("compresses");
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(
            decompress(&h, z.into()).as_deref(),
            Some(b"hello".as_slice())
        );
        assert_eq!(decompress(&h, Bytes::from_static(b"junk")), None);
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        assert_eq!(decompress(&h, Bytes::from_static(b"x")), None);
    }
}
