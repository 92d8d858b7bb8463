//! OTLP/gRPC over hyper's HTTP/2 client: the request headers, and reading the status from the
//! trailers, or from the headers of a trailers-only response.

use super::{Delivered, base_headers, collect, partial_success};
use crate::config::SignalConfig;
use crate::error::{Error, Kind, Status};
use crate::retry::is_retryable_grpc;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;
use otlp_proto::grpc::{self as wire, code};
use otlp_proto::{Compression, Encoding, Signal, rpc};
use tokio::time::Instant;

/// The headers of every request of this route but `grpc-timeout`.
pub(super) fn headers(sc: &SignalConfig) -> HeaderMap {
    let mut map = base_headers(sc);
    map.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(wire::CONTENT_TYPE),
    );
    map.insert(http::header::TE, HeaderValue::from_static("trailers"));
    set_encoding(&mut map, sc.compression());
    map.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static(otlp_proto::Compression::accepted_tokens()),
    );
    map
}

/// Says in `headers` how the messages are compressed: `grpc-encoding`, absent for none.
pub(super) fn set_encoding(headers: &mut HeaderMap, compression: Compression) {
    match compression.encoding_token() {
        Some(token) => {
            headers.insert("grpc-encoding", HeaderValue::from_static(token));
        }
        None => {
            headers.remove("grpc-encoding");
        }
    }
}

/// Tells the server how long the client will wait, so it can give up too.
pub(super) fn set_timeout(headers: &mut HeaderMap, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    if let Ok(v) = HeaderValue::from_str(&wire::format_timeout(left)) {
        headers.insert("grpc-timeout", v);
    }
}

pub(super) async fn read_response(
    signal: Signal,
    response: Response<Incoming>,
) -> Result<Delivered, Error> {
    // Trailers-only: the status is in the headers and there is no message.
    if let Some(status) = GrpcStatus::from_headers(response.headers()) {
        return status.into_result().map(|()| Delivered::default());
    }
    if response.status() != StatusCode::OK {
        return Err(http_status_error(response.status()));
    }
    let headers = response.headers().clone();
    let (body, trailers) = collect(response).await?;
    let status = trailers
        .as_ref()
        .and_then(GrpcStatus::from_headers)
        .ok_or_else(|| Error::new(Kind::Protocol, "gRPC response without grpc-status"))?;
    status.into_result()?;
    let (compressed, range) = wire::decode_frame(&body, super::MAX_RESPONSE)
        .map_err(|e| Error::new(Kind::Protocol, format!("invalid gRPC response: {e}")))?;
    let mut message = body.slice(range);
    if compressed {
        let token = headers
            .get("grpc-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let compression = Compression::from_encoding_token(token)
            .filter(|c| *c != Compression::None)
            .ok_or_else(|| {
                Error::new(
                    Kind::Protocol,
                    format!("gRPC response compressed with unsupported encoding {token:?}"),
                )
            })?;
        let plain = compression
            .decompress(&message, super::MAX_RESPONSE)
            .map_err(|e| Error::new(Kind::Protocol, format!("invalid gRPC response: {e}")))?;
        message = plain.into();
    }
    // The data was accepted; an unreadable response only loses the partial-success details.
    Ok(partial_success(signal, Encoding::Protobuf, &message).unwrap_or_default())
}

/// The gRPC code for a non-200 HTTP status, per gRPC's "HTTP to gRPC status code mapping".
pub(super) fn http_status_error(status: StatusCode) -> Error {
    let c = match status.as_u16() {
        400 => code::INTERNAL,
        401 => code::UNAUTHENTICATED,
        403 => code::PERMISSION_DENIED,
        404 => code::UNIMPLEMENTED,
        429 | 502 | 503 | 504 => code::UNAVAILABLE,
        _ => code::UNKNOWN,
    };
    let err = Error::new(
        Kind::Status,
        format!(
            "server answered HTTP {status} instead of gRPC ({})",
            wire::code_name(c)
        ),
    )
    .with_status(Status::Grpc(c), None);
    if is_retryable_grpc(c, false) {
        err.retryable()
    } else {
        err
    }
}

/// `grpc-status`, `grpc-message` and `grpc-status-details-bin`.
#[derive(Debug)]
pub(super) struct GrpcStatus {
    pub(super) code: i32,
    message: Option<String>,
    details: Option<rpc::Status>,
}

impl GrpcStatus {
    pub(super) fn from_headers(map: &HeaderMap) -> Option<GrpcStatus> {
        let code = map.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
        let message = map
            .get("grpc-message")
            .map(|v| wire::decode_message(v.as_bytes()))
            .filter(|m| !m.is_empty());
        let details = map
            .get(wire::STATUS_DETAILS_HEADER)
            .and_then(|v| wire::decode_status_details(v.as_bytes()));
        Some(GrpcStatus {
            code,
            message,
            details,
        })
    }

    pub(super) fn into_result(self) -> Result<(), Error> {
        if self.code == code::OK {
            return Ok(());
        }
        let delay = self.details.as_ref().and_then(rpc::Status::retry_delay);
        // grpc-message is the usual place; the details' message is the fallback.
        let message = self.message.or_else(|| {
            self.details
                .as_ref()
                .map(|d| d.message.to_string())
                .filter(|m| !m.is_empty())
        });
        let status = Status::Grpc(self.code);
        let err = Error::new(Kind::Status, format!("server answered {status}"))
            .with_status(status, message);
        Err(if is_retryable_grpc(self.code, delay.is_some()) {
            err.retryable().with_retry_after(delay)
        } else {
            err
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).expect("valid"));
        }
        map
    }

    /// Standard padded base64 (servers may pad, or not).
    fn base64(data: &[u8]) -> String {
        let mut out = Vec::new();
        otlp_proto::base64::encode_to(&mut out, data, true);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn status_with_retry_info_is_retryable_with_its_delay() {
        let details = rpc::Status::with_retry_delay(
            code::RESOURCE_EXHAUSTED,
            "slow down",
            Duration::from_millis(1500),
        );
        let map = headers(&[
            ("grpc-status", "8".into()),
            ("grpc-message", "quota%20exceeded".into()),
            (
                "grpc-status-details-bin",
                base64(&otlp_proto::Message::encode_to_bytes(&details)),
            ),
        ]);
        let err = GrpcStatus::from_headers(&map)
            .expect("status")
            .into_result()
            .expect_err("fails");
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(err.status(), Some(Status::Grpc(code::RESOURCE_EXHAUSTED)));
        assert_eq!(err.server_message(), Some("quota exceeded"));
    }

    #[test]
    fn resource_exhausted_without_retry_info_is_permanent() {
        let map = headers(&[("grpc-status", "8".into())]);
        let err = GrpcStatus::from_headers(&map)
            .expect("status")
            .into_result()
            .expect_err("fails");
        assert!(!err.is_retryable());
        let map = headers(&[("grpc-status", "3".into()), ("grpc-message", "bad".into())]);
        let err = GrpcStatus::from_headers(&map)
            .expect("status")
            .into_result()
            .expect_err("fails");
        assert!(!err.is_retryable() && err.server_message() == Some("bad"));
        let map = headers(&[("grpc-status", "0".into())]);
        assert!(
            GrpcStatus::from_headers(&map)
                .expect("status")
                .into_result()
                .is_ok()
        );
        assert!(GrpcStatus::from_headers(&HeaderMap::new()).is_none());
    }

    #[test]
    fn http_statuses_map_to_grpc_codes() {
        let err = http_status_error(StatusCode::SERVICE_UNAVAILABLE);
        assert!(err.is_retryable());
        assert_eq!(err.status(), Some(Status::Grpc(code::UNAVAILABLE)));
        let err = http_status_error(StatusCode::NOT_FOUND);
        assert!(!err.is_retryable());
        assert_eq!(err.status(), Some(Status::Grpc(code::UNIMPLEMENTED)));
    }
}
