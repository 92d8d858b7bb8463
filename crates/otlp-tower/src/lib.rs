//! [`tower`](https://docs.rs/tower) layers that trace HTTP and gRPC calls, on both ends, by the
//! OpenTelemetry semantic conventions, and export through an [`OtlpClient`]:
//! [`OtlpServerLayer`] for servers (axum, hyper, tonic), [`OtlpClientLayer`] for clients
//! (hyper-util's client, tonic channels, any tower stack of `http` requests).
//!
//! Each request becomes a span, and its duration a measurement:
//!
//! | | HTTP | gRPC (`content-type: application/grpc*`) |
//! |---|---|---|
//! | span name | server `{method} {http.route}` (or `{method}` without a route), client `{method}` | `{rpc.method}`, `package.Service/Method` |
//! | span kind | `SERVER` / `CLIENT` | `SERVER` / `CLIENT` |
//! | attributes | `http.request.method` (unknown methods `_OTHER`, with `http.request.method_original`), `network.protocol.version`, `user_agent.original`; servers `url.path`, `url.query`, `url.scheme`, `server.address`/`server.port` (`Host`), `http.route` and `client.address` (axum); clients `url.full` (without credentials), `server.address`/`server.port`; `http.response.status_code` | `rpc.system.name` = `grpc`, `rpc.method`, `rpc.response.status_code` (`OK`, `NOT_FOUND`, ... from `grpc-status` in the headers or the trailers); clients `server.address`/`server.port` |
//! | error (status ERROR, `error.type`) | servers: 5xx; clients: 4xx and 5xx; the status code as `error.type` | clients: any status but `OK`; servers: `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` |
//! | histogram (s, the conventions' buckets) | `http.server.request.duration` / `http.client.request.duration` | `rpc.server.call.duration` / `rpc.client.call.duration` |
//!
//! The measurements carry only the low-cardinality attributes (method, scheme, route, status,
//! protocol version, `error.type`; clients the server's address and port): no path, query or
//! user agent. Names follow the semantic conventions this workspace generates from (v1.44:
//! `rpc.system.name` and `rpc.response.status_code` replace the deprecated `rpc.system` and
//! `rpc.grpc.status_code`; `rpc.method` is fully qualified, which drops `rpc.service`).
//!
//! **Older RPC names.** Many backends still read the names before v1.44. As the conventions'
//! transition has it, `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup` (one entry of its
//! comma-separated list, read when a layer is made) makes the layers write both: beside the
//! current names, `rpc.system` = `grpc`, `rpc.service` (`shop.Orders`) and
//! `rpc.grpc.status_code` (the code, an integer), on spans and measurements. `rpc.method`, a
//! key of both, keeps its current, fully-qualified value. In code, `with_rpc_conventions`
//! on a layer ([`RpcConventions`]) overrides the variable; the default, without it, is the
//! current names only.
//!
//! **Context.** A server span's parent is the context the request carries (W3C
//! `traceparent`/`tracestate` and `baggage`, read by the client's propagator); without one it
//! starts a trace. The span (with the request's baggage) is current while the inner service
//! runs, across `.await`: spans, log records and outgoing calls made by the handler are its
//! children. A client span's parent is the current context, and the request carries the
//! client span's context to the server.
//!
//! **Duration.** A call ends when its response body ends (or fails, or is dropped): a
//! streamed response is measured to its last frame, and a gRPC call reads its status from the
//! trailers. A call whose inner service fails ends then, with the error's type as `error.type`.
//!
//! **reqwest.** With the `reqwest` feature, [`OtlpReqwestMiddleware`] does the client layer's
//! work for reqwest through `reqwest-middleware` (the call ends when the response's headers
//! arrive: reqwest reads the body later).
//!
//! **Route and peer.** With the `axum` feature, `http.route` is axum's `MatchedPath`
//! (`/users/{id}`): add the layer with `Router::layer`, which runs it after routing; and
//! `client.address` is the peer of `ConnectInfo<SocketAddr>` (serve with
//! `into_make_service_with_connect_info`).
//!
//! # Example
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use otlp_tower::{OtlpClientLayer, OtlpServerLayer};
//! use tower_layer::Layer;
//!
//! # fn demo<S, C>(service: S, http_client: C) -> Result<(), otlp::Error> {
//! let client = OtlpClient::new_blocking(ClientConfig::new())?;
//! // Servers: axum's `Router::layer(OtlpServerLayer::new(&client))`, tonic's
//! // `Server::builder().layer(..)`, or around any tower service:
//! let traced_server = OtlpServerLayer::new(&client).layer(service);
//! // Clients: around hyper-util's client or a tonic channel.
//! let traced_client = OtlpClientLayer::new(&client).layer(http_client);
//! # let _ = (traced_server, traced_client);
//! # Ok(())
//! # }
//! ```

mod body;
mod call;
mod conventions;
#[cfg(feature = "reqwest")]
mod middleware;
mod request;
mod service;

pub use body::ObservedBody;
pub use conventions::{RpcConventions, STABILITY_OPT_IN};
#[cfg(feature = "reqwest")]
pub use middleware::OtlpReqwestMiddleware;
pub use service::{OtlpClientLayer, OtlpServerLayer, OtlpService, ResponseFuture};

#[cfg(doc)]
use otlp_sdk::OtlpClient;
