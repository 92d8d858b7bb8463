//! OTLP/HTTP: routes by path, method, content type and encoding, and answers in the request's
//! encoding (errors as a `google.rpc.Status`, as the specification asks).

use super::{Exchange, Shared};
use crate::Transport;
use crate::body;
use crate::failure::Failure;
use crate::reply::{self, ReplyBody, Wire};
use http::header::{
    ALLOW, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, RETRY_AFTER,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use otlp_proto::{Compression, Encoding, Signal};
use std::time::Duration;

/// Where a request goes, once its headers are understood.
struct Route {
    signal: Signal,
    encoding: Encoding,
    compression: Compression,
}

pub(super) async fn handle(shared: &Shared, request: Request<Incoming>) -> Response<ReplyBody> {
    let (parts, body) = request.into_parts();
    // An HTTP/1.1 body left unread resets the connection on close, hiding our answer from the
    // client; so refused bodies are drained. Not when the client awaits 100-continue: then it
    // has sent no body, and will not once it sees the answer.
    let drain = parts.version < Version::HTTP_2 && !expects_continue(&parts.headers);
    let route = match route(&parts) {
        Ok(route) => route,
        Err((failure, encoding)) => {
            if drain {
                body::drain(body).await;
            }
            return error(&failure, encoding);
        }
    };
    let declared = content_length(&parts.headers);
    let version = parts.version;
    let headers = parts.headers;
    let mut exchange = Exchange::new(
        route.signal,
        Transport::Http,
        route.encoding,
        route.compression,
    );
    // Held until the answer is sent: what the request takes counts against the memory limit.
    let mut permit = None;
    let outcome = async {
        let permit = permit.insert(match shared.memory.admit() {
            Ok(permit) => permit,
            Err(refused) => {
                if drain {
                    body::drain(body).await;
                }
                return Err(refused);
            }
        });
        let limit = shared.max_request_size;
        let timeout = shared.timeouts.body;
        let wire = body::read(body, declared, limit, drain, timeout, permit).await?;
        exchange.wire_bytes = wire.len();
        shared.export(&mut exchange, wire, headers, permit).await
    }
    .await;
    shared.report(&exchange, &outcome);
    match outcome {
        Ok(ack) => {
            let body = reply::export_response(route.signal, &ack, Wire::Http(route.encoding));
            let mut response = Response::new(ReplyBody::full(body));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static(route.encoding.content_type()),
            );
            response
        }
        Err(failure) => {
            let mut response = error(&failure, route.encoding);
            // The rest of a body too slow to arrive is left unread, which ends an HTTP/1.1
            // connection: say so (HTTP/2 has no such header, and resets only the stream).
            if failure.http == StatusCode::REQUEST_TIMEOUT && version < Version::HTTP_2 {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

/// Checks path, method, content type and encoding, in that order. A refusal comes with the
/// encoding to answer in: JSON for a JSON request, protobuf otherwise.
fn route(parts: &Parts) -> Result<Route, (Failure, Encoding)> {
    let encoding = content_type(&parts.headers);
    let answer_in = encoding.unwrap_or(Encoding::Protobuf);
    let path = parts.uri.path();
    let Some(signal) = Signal::from_http_path(path) else {
        let known: Vec<&str> = Signal::ALL.iter().map(|s| s.http_path()).collect();
        let failure = Failure::not_found(format!(
            "no OTLP endpoint at {path}; the endpoints are {}",
            known.join(", ")
        ));
        return Err((failure, answer_in));
    };
    if parts.method != Method::POST {
        let failure = Failure::method_not_allowed(format!(
            "{} is not allowed on {path}; OTLP/HTTP uses POST",
            parts.method
        ));
        return Err((failure, answer_in));
    }
    let Some(encoding) = encoding else {
        let failure = Failure::unsupported(format!(
            "unsupported content type {}; use application/x-protobuf or application/json",
            quoted(parts.headers.get(CONTENT_TYPE))
        ));
        return Err((failure, answer_in));
    };
    let compression = match parts.headers.get(CONTENT_ENCODING) {
        None => Compression::None,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(Compression::from_encoding_token)
            .ok_or_else(|| {
                let failure = Failure::unsupported(format!(
                    "unsupported content encoding {}; use gzip, zstd or identity",
                    quoted(Some(value))
                ));
                (failure, encoding)
            })?,
    };
    Ok(Route {
        signal,
        encoding,
        compression,
    })
}

/// The encoding named by `Content-Type`, ignoring parameters such as `charset`.
fn content_type(headers: &HeaderMap) -> Option<Encoding> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    [Encoding::Protobuf, Encoding::Json]
        .into_iter()
        .find(|e| essence.eq_ignore_ascii_case(e.content_type()))
}

fn quoted(value: Option<&HeaderValue>) -> String {
    match value {
        Some(v) => format!("{:?}", String::from_utf8_lossy(v.as_bytes())),
        None => "(none)".to_owned(),
    }
}

pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// An error answer: the status, a `google.rpc.Status` body, and `Retry-After` when asked for.
fn error(failure: &Failure, encoding: Encoding) -> Response<ReplyBody> {
    let body = reply::status_body(&failure.status(), encoding);
    let mut response = Response::new(ReplyBody::full(body));
    *response.status_mut() = failure.http;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if failure.http == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    if let Some(delay) = failure.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(whole_seconds(delay)));
    }
    response
}

/// `Retry-After` takes whole seconds: round up, so the client never comes back too early.
fn whole_seconds(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, path: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn routes_by_path_method_type_and_encoding() {
        let json = ("content-type", "application/json; charset=utf-8");
        let r = route(&parts(
            Method::POST,
            "/v1/logs",
            &[json, ("content-encoding", "GZIP")],
        ))
        .unwrap_or_else(|(f, _)| panic!("{f:?}"));
        assert_eq!(
            (r.signal, r.encoding, r.compression),
            (Signal::Logs, Encoding::Json, Compression::Gzip)
        );

        let status = |p: Parts| route(&p).err().map(|(f, e)| (f.http.as_u16(), e));
        let pb = ("content-type", "application/x-protobuf");
        assert_eq!(
            status(parts(Method::POST, "/v1/profiles", &[pb])),
            Some((404, Encoding::Protobuf))
        );
        assert_eq!(
            status(parts(Method::GET, "/v1/traces", &[json])),
            Some((405, Encoding::Json))
        );
        assert_eq!(
            status(parts(Method::POST, "/v1/traces", &[])),
            Some((415, Encoding::Protobuf))
        );
        assert_eq!(
            status(parts(
                Method::POST,
                "/v1/traces",
                &[("content-type", "text/plain")]
            )),
            Some((415, Encoding::Protobuf))
        );
        assert_eq!(
            status(parts(
                Method::POST,
                "/v1/traces",
                &[json, ("content-encoding", "br")]
            )),
            Some((415, Encoding::Json))
        );
        assert_eq!(
            status(parts(Method::POST, "/v1development/profiles", &[pb])),
            None
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
    }
}
