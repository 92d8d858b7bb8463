//! OTLP/gRPC on plain HTTP/2: unary `Export` calls, one length-prefixed message each way, the
//! status in trailers (or, for errors, trailers-only responses). The OTAP streams' methods are
//! routed here too, and served by [`super::otap`].

use super::http::content_length;
use super::{Exchange, Shared, otap};
use crate::Transport;
use crate::body;
use crate::failure::Failure;
use crate::reply::{self, ReplyBody, Wire};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use otlp_proto::grpc::{self, FrameError, code};
use otlp_proto::{Compression, Encoding, Signal};
use std::sync::Arc;
use tokio::sync::watch;

const ACCEPT_ENCODING: &str = "gzip,zstd";

/// Answers one call: a unary OTLP `Export`, or an OTAP stream (see [`super::otap`]). `stopping`
/// turns true when the receiver shuts down, which ends a stream.
pub(super) async fn handle(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    stopping: watch::Receiver<bool>,
) -> Response<ReplyBody> {
    let (parts, body) = request.into_parts();
    // Not a gRPC request at all: the gRPC spec answers at the HTTP level.
    if !is_grpc(&parts.headers) {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    if parts.method != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED);
    }
    let path = parts.uri.path();
    let otap = otap::Kind::of(path);
    let Some(signal) = Signal::from_grpc_path(path).or(otap.map(otap::Kind::signal)) else {
        return trailers_only(&Failure::not_found(format!(
            "unknown method {path}: this server implements the OTLP Export methods and the \
             OTLP/Arrow (OTAP) streams"
        )));
    };
    let compression = match parts.headers.get("grpc-encoding") {
        None => Compression::None,
        Some(value) => match value
            .to_str()
            .ok()
            .and_then(Compression::from_encoding_token)
        {
            Some(compression) => compression,
            None => {
                return trailers_only(&Failure::unsupported(format!(
                    "grpc-encoding {:?} is not supported; use gzip, zstd or identity",
                    String::from_utf8_lossy(value.as_bytes())
                )));
            }
        },
    };
    if let Some(kind) = otap {
        let mut response = Response::new(otap::serve(
            shared.clone(),
            kind,
            compression,
            parts.headers,
            body,
            stopping,
        ));
        grpc_headers(response.headers_mut());
        return response;
    }
    let deadline = parts
        .headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(grpc::parse_timeout);
    let declared = content_length(&parts.headers);
    let headers = parts.headers;

    let mut exchange = Exchange::new(signal, Transport::Grpc, Encoding::Protobuf, compression);
    // Held until the answer is sent: what the request takes counts against the memory limit.
    let mut permit = None;
    let work = async {
        let permit = permit.insert(shared.memory.admit()?);
        let limit = shared.max_request_size;
        // The wire body may exceed the message limit by the 5-byte prefix.
        let wire = body::read(
            body,
            declared,
            limit.saturating_add(grpc::FRAME_HEADER_LEN),
            false,
            shared.timeouts.body,
            permit,
        )
        .await?;
        exchange.wire_bytes = wire.len();
        let (compressed, message) = grpc::decode_frame(&wire, limit).map_err(|e| match e {
            FrameError::TooLarge { .. } => Failure::too_large(e.to_string()),
            e => Failure::bad_request(format!("malformed gRPC message: {e}")),
        })?;
        if !compressed {
            // A sender may skip compressing one message despite grpc-encoding.
            exchange.compression = Compression::None;
        } else if exchange.compression == Compression::None {
            return Err(Failure::internal(
                "message is flagged compressed but no grpc-encoding was sent",
            ));
        }
        shared
            .export(&mut exchange, wire.slice(message), headers, permit)
            .await
    };
    // The deadline covers reading and any delay the sink asks for; a sink is never cut off
    // half-way, since `consume` is not awaited.
    let outcome = match deadline {
        Some(deadline) => tokio::time::timeout(deadline, work)
            .await
            .unwrap_or_else(|_| Err(Failure::deadline_exceeded())),
        None => work.await,
    };
    shared.report(&exchange, &outcome);
    match outcome {
        Ok(ack) => {
            let message = reply::export_response(signal, &ack, Wire::Grpc);
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from(code::OK));
            let mut response = Response::new(ReplyBody::with_trailers(message, trailers));
            grpc_headers(response.headers_mut());
            response
        }
        Err(failure) => trailers_only(&failure),
    }
}

fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(grpc::CONTENT_TYPE.as_bytes()))
}

pub(super) fn grpc_headers(headers: &mut HeaderMap) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(grpc::CONTENT_TYPE));
    headers.insert(
        "grpc-accept-encoding",
        HeaderValue::from_static(ACCEPT_ENCODING),
    );
}

/// An error as gRPC sends it without a message: status, message and details in the headers,
/// and the stream ended with them.
fn trailers_only(failure: &Failure) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::empty());
    let headers = response.headers_mut();
    grpc_headers(headers);
    headers.insert("grpc-status", HeaderValue::from(failure.grpc));
    if let Ok(message) = HeaderValue::try_from(grpc::encode_message(&failure.message)) {
        headers.insert("grpc-message", message);
    }
    if failure.retry_after.is_some() {
        // Binary metadata is base64; gRPC implementations send it unpadded.
        let encoded = grpc::encode_status_details(&failure.status());
        if let Ok(value) = HeaderValue::try_from(encoded) {
            headers.insert(grpc::STATUS_DETAILS_HEADER, value);
        }
    }
    response
}

fn plain(status: StatusCode) -> Response<ReplyBody> {
    let mut response = Response::new(ReplyBody::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn trailers_only_carries_status_message_and_retry_info() {
        let mut failure = Failure::from(
            crate::Refusal::unavailable("100% busy").with_retry_after(Duration::from_millis(2500)),
        );
        let response = trailers_only(&failure);
        let h = response.headers();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(h["grpc-message"], "100%25 busy");
        assert_eq!(h["content-type"], "application/grpc");
        let status =
            grpc::decode_status_details(h[grpc::STATUS_DETAILS_HEADER].as_bytes()).unwrap();
        assert_eq!(status.code, code::UNAVAILABLE);
        assert_eq!(status.retry_delay(), Some(Duration::from_millis(2500)));

        failure.retry_after = None;
        assert!(
            !trailers_only(&failure)
                .headers()
                .contains_key("grpc-status-details-bin")
        );
    }
}
