//! The transport: one [`Route`] per signal, holding everything needed to send that signal's
//! pre-encoded bodies, and the single generic send path all signals and protocols share.
//!
//! A route's body arrives fully prepared (encoded, compressed and framed once, by the caller), so
//! sending or re-sending it only clones a `Bytes` handle. The protocol-specific parts are small:
//! which headers to send ([`grpc::headers`], [`http::headers`]) and how to read the answer.

mod coalesce;
mod connect;
mod grpc;
mod http;
mod tls;

pub(crate) use connect::ConnectError;
use connect::TlsFate;

use crate::config::{ExporterConfig, Protocol, SignalConfig, TlsFiles};
use crate::error::{Error, Kind, find_cause, root_cause};
use crate::exporter::ExportOutcome;
use crate::retry::{self, RetryPolicy};
use ::http::{HeaderMap, HeaderValue, Method, Request, Response, Uri};
use bytes::Bytes;
use connect::Connector;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use otlp_proto::{ExportResponse, Signal};
use std::time::Duration;
use tokio::time::Instant;

/// The largest response body read; OTLP responses are a few bytes, so more is a broken server.
const MAX_RESPONSE: usize = 4 << 20;

const USER_AGENT: &str = concat!("OTel-OTLP-Exporter-Rust/", env!("CARGO_PKG_VERSION"));

type HttpClient = Client<Connector, Full<Bytes>>;

/// How one signal is sent: where, with which headers, by which client.
#[derive(Debug)]
pub(crate) struct Route {
    signal: Signal,
    protocol: Protocol,
    uri: Uri,
    timeout: Duration,
    retry: RetryPolicy,
    /// Every header but `grpc-timeout`, built once.
    headers: HeaderMap,
    client: HttpClient,
}

/// Builds the routes of all signals, in [`Signal::ALL`] order. Signals with the same TLS files
/// and transport share one client, so they share connections.
pub(crate) fn routes(
    config: &ExporterConfig,
    signals: &[SignalConfig],
) -> Result<Vec<Route>, Error> {
    let mut tls = tls::TlsBuilder::default();
    let mut clients: Vec<((Option<TlsFiles>, bool), HttpClient)> = Vec::new();
    let mut routes = Vec::with_capacity(signals.len());
    for sc in signals {
        let grpc = sc.protocol() == Protocol::Grpc;
        let key = (sc.is_tls().then(|| sc.tls.clone()), grpc);
        let client = match clients.iter().find(|(k, _)| *k == key) {
            Some((_, c)) => c.clone(),
            None => {
                let connector = match &key.0 {
                    Some(files) => {
                        // gRPC needs HTTP/2; OTLP/HTTP takes whichever the server prefers.
                        let alpn: &[&[u8]] = if grpc {
                            &[b"h2"]
                        } else {
                            &[b"h2", b"http/1.1"]
                        };
                        let config = tls.build(files, alpn)?;
                        Connector::new(Some(tokio_rustls::TlsConnector::from(config)))
                    }
                    None => Connector::new(None),
                };
                let client = Client::builder(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(Duration::from_secs(90))
                    // gRPC over `http://` is HTTP/2 with prior knowledge.
                    .http2_only(grpc)
                    .build(connector);
                clients.push((key, client.clone()));
                client
            }
        };
        let headers = match sc.protocol() {
            Protocol::Grpc => grpc::headers(sc),
            Protocol::HttpProtobuf | Protocol::HttpJson => http::headers(sc),
        };
        routes.push(Route {
            signal: sc.signal(),
            protocol: sc.protocol(),
            uri: sc.endpoint().clone(),
            timeout: sc.timeout(),
            retry: config.retry().clone(),
            headers,
            client,
        });
    }
    Ok(routes)
}

/// The headers every request carries first, so that configured ones can replace them.
fn base_headers(sc: &SignalConfig) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(sc.headers().len() + 6);
    map.insert(
        ::http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    for (name, value) in sc.headers() {
        map.insert(name.clone(), value.clone());
    }
    map
}

/// What a successful request reported back.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    rejected: i64,
    message: Option<String>,
}

impl Route {
    /// Sends `body` (ready for the wire) with retries, within the route's timeout.
    pub(crate) async fn export(&self, body: Bytes) -> Result<ExportOutcome, Error> {
        let body = &body;
        let (result, attempts) = retry::run(&self.retry, self.timeout, |_, deadline| {
            self.send(body, deadline)
        })
        .await;
        match result {
            Ok(d) => Ok(ExportOutcome {
                rejected: d.rejected,
                message: d.message,
                attempts,
                wire_bytes: body.len(),
                disabled: false,
            }),
            Err(e) => Err(e.during_export(self.signal, &self.uri.to_string(), attempts)),
        }
    }

    /// One attempt. The body is shared, never copied: a retry re-sends the same bytes.
    async fn send(&self, body: &Bytes, deadline: Instant) -> Result<Delivered, Error> {
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        if self.protocol == Protocol::Grpc {
            grpc::set_timeout(request.headers_mut(), deadline);
        }
        let response = self.client.request(request).await.map_err(request_error)?;
        match self.protocol {
            Protocol::Grpc => grpc::read_response(self.signal, response).await,
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                http::read_response(self.signal, self.protocol.encoding(), response).await
            }
        }
    }
}

/// Sorts a failed request: TLS failures are permanent, connection failures and broken
/// connections are transient.
fn request_error(e: hyper_util::client::legacy::Error) -> Error {
    if let Some(tls) = find_cause::<rustls::Error>(&e) {
        let msg = match find_cause::<ConnectError>(&e) {
            Some(c) => c.to_string(),
            None => format!("TLS failed: {tls}"),
        };
        return Error::new(Kind::Tls, msg).with_source(e);
    }
    // The connection may have died of a TLS alert the request never saw.
    let fate = e.connect_info().and_then(|info| {
        let mut extensions = ::http::Extensions::new();
        info.get_extras(&mut extensions);
        extensions.get::<TlsFate>().and_then(|f| f.error().cloned())
    });
    if let Some(tls) = fate {
        return Error::new(Kind::Tls, format!("TLS failed: {tls}")).with_source(e);
    }
    if let Some(c) = find_cause::<ConnectError>(&e) {
        let kind = if c.is_tls() { Kind::Tls } else { Kind::Connect };
        // A TLS failure without a rustls error is I/O during the handshake: transient.
        return Error::new(kind, c.to_string()).retryable().with_source(e);
    }
    if e.is_connect() {
        let msg = format!("cannot connect: {}", root_cause(&e));
        return Error::new(Kind::Connect, msg).retryable().with_source(e);
    }
    let msg = format!("request failed: {}", root_cause(&e));
    Error::new(Kind::Transport, msg).retryable().with_source(e)
}

/// Reads a whole response body and its trailers, up to [`MAX_RESPONSE`] bytes.
async fn collect(response: Response<Incoming>) -> Result<(Bytes, Option<HeaderMap>), Error> {
    let collected = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::new(
                    Kind::Protocol,
                    format!("response body exceeds {MAX_RESPONSE} bytes"),
                )
            } else {
                let msg = format!("reading the response failed: {}", root_cause(&*e));
                Error::new(Kind::Transport, msg).retryable().with_source(e)
            }
        })?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes(), trailers))
}

/// The partial success a response reports, if any: `(rejected, message)`. A partial success with
/// nothing rejected and no message means full success and is dropped.
fn partial_success(
    signal: Signal,
    encoding: otlp_proto::Encoding,
    body: &Bytes,
) -> Result<Delivered, otlp_proto::DecodeError> {
    use otlp_proto::collector::*;
    fn decode<R: ExportResponse>(
        encoding: otlp_proto::Encoding,
        body: &Bytes,
    ) -> Result<Delivered, otlp_proto::DecodeError> {
        let response = match encoding {
            otlp_proto::Encoding::Protobuf => R::decode(body)?,
            otlp_proto::Encoding::Json => R::from_json(body)?,
        };
        let Some((rejected, message)) = response.partial_success() else {
            return Ok(Delivered::default());
        };
        Ok(Delivered {
            rejected,
            message: (!message.is_empty()).then(|| message.to_owned()),
        })
    }
    if body.is_empty() {
        return Ok(Delivered::default());
    }
    match signal {
        Signal::Traces => decode::<ExportTraceServiceResponse>(encoding, body),
        Signal::Metrics => decode::<ExportMetricsServiceResponse>(encoding, body),
        Signal::Logs => decode::<ExportLogsServiceResponse>(encoding, body),
        Signal::Profiles => decode::<ExportProfilesServiceResponse>(encoding, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::Message;
    use otlp_proto::collector::ExportLogsServiceResponse;

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        let response = ExportLogsServiceResponse::rejecting(3, "too old");
        for (encoding, body) in [
            (otlp_proto::Encoding::Protobuf, response.encode_to_bytes()),
            (otlp_proto::Encoding::Json, Bytes::from(response.to_json())),
        ] {
            let d = partial_success(Signal::Logs, encoding, &body).expect("decodes");
            assert_eq!((d.rejected, d.message.as_deref()), (3, Some("too old")));
        }
        let empty = partial_success(Signal::Logs, otlp_proto::Encoding::Json, &Bytes::new())
            .expect("empty body");
        assert_eq!((empty.rejected, empty.message), (0, None));
        let ok = ExportLogsServiceResponse::rejecting(0, "").encode_to_bytes();
        let d = partial_success(Signal::Logs, otlp_proto::Encoding::Protobuf, &ok).expect("ok");
        assert_eq!((d.rejected, d.message), (0, None));
    }
}
