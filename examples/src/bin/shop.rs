//! Two services of a shop, each a process of its own set up with `otlp::init()`: `storefront`,
//! an axum HTTP service, takes `POST /orders/{sku}?quantity=N` and reserves the stock by
//! calling `inventory`, a tonic gRPC service, through a tonic channel. Both ends of both calls
//! go through `otlp::tower`'s layers, so one trace runs from the caller of the storefront to
//! the inventory's handler; the handlers' `log` and `tracing` records are correlated with their
//! spans; and each service exports its request-duration histograms.
//!
//! ```sh
//! cargo run -p examples --bin shop -- inventory 127.0.0.1:50051
//! cargo run -p examples --bin shop -- storefront 127.0.0.1:8080 http://127.0.0.1:50051
//! curl -X POST 'http://127.0.0.1:8080/orders/sku-1?quantity=2'
//! ```
//!
//! Each prints `listening on ADDR` (a port of 0 picks one) and serves until Ctrl-C or SIGTERM,
//! then shuts down gracefully: the `init` guard exports what is left.
//! Export settings come from the `OTEL_*` variables (`OTEL_SERVICE_NAME`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`, ...).

use axum::extract::{Path, Query, State};
use otlp::tower::{OtlpClientLayer, OtlpServerLayer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpListener;
use tower_layer::Layer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The inventory's request: reserve `quantity` of `sku`.
#[derive(Clone, PartialEq, prost::Message)]
struct ReserveRequest {
    #[prost(string, tag = "1")]
    sku: String,
    #[prost(uint32, tag = "2")]
    quantity: u32,
}

/// The inventory's answer: what is left.
#[derive(Clone, PartialEq, prost::Message)]
struct ReserveReply {
    #[prost(uint32, tag = "1")]
    remaining: u32,
}

/// The gRPC method the storefront calls.
const RESERVE: &str = "/shop.Inventory/Reserve";

/// The inventory service, written as tonic's generated code would be: one unary method.
#[derive(Clone, Default)]
struct Inventory;

impl tonic::server::NamedService for Inventory {
    const NAME: &'static str = "shop.Inventory";
}

/// The `Reserve` handler.
struct Reserve;

impl tonic::server::UnaryService<ReserveRequest> for Reserve {
    type Response = ReserveReply;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<ReserveReply>, tonic::Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<ReserveRequest>) -> Self::Future {
        Box::pin(async move {
            let request = request.into_inner();
            if request.sku.is_empty() {
                return Err(tonic::Status::invalid_argument("no sku"));
            }
            // A log record correlated with the inventory's server span.
            log::info!(sku = request.sku.as_str(), quantity = request.quantity; "stock reserved");
            Ok(tonic::Response::new(ReserveReply {
                remaining: 100u32.saturating_sub(request.quantity),
            }))
        })
    }
}

impl tower_service::Service<http::Request<tonic::body::Body>> for Inventory {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != RESERVE {
            return Box::pin(async {
                Ok(tonic::Status::unimplemented("no such method").into_http())
            });
        }
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(Reserve, request).await)
        })
    }
}

/// Says where the service listens (the first line of stdout: a port of 0 picks one).
fn listening(listener: &TcpListener) -> Result<(), BoxError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", listener.local_addr()?)?;
    out.flush()?;
    Ok(())
}

/// Serves until Ctrl-C or SIGTERM.
async fn until_terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn inventory(addr: &str, client: &otlp::OtlpClient) -> Result<(), BoxError> {
    let listener = TcpListener::bind(addr).await?;
    listening(&listener)?;
    tonic::transport::Server::builder()
        .layer(OtlpServerLayer::new(client))
        .add_service(Inventory)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            until_terminated(),
        )
        .await?;
    Ok(())
}

/// The storefront's state: its traced gRPC client of the inventory.
#[derive(Clone)]
struct Storefront {
    inventory: tonic::client::Grpc<otlp::tower::OtlpService<tonic::transport::Channel>>,
}

async fn place_order(
    State(mut shop): State<Storefront>,
    Path(sku): Path<String>,
    Query(query): Query<HashMap<String, u32>>,
) -> Result<String, (http::StatusCode, String)> {
    let quantity = query.get("quantity").copied().unwrap_or(1);
    tracing::info!(sku = sku.as_str(), quantity, "order received");
    let unavailable = |e: &dyn std::fmt::Display| (http::StatusCode::BAD_GATEWAY, e.to_string());
    shop.inventory.ready().await.map_err(|e| unavailable(&e))?;
    let reply: tonic::Response<ReserveReply> = shop
        .inventory
        .unary(
            tonic::Request::new(ReserveRequest {
                sku: sku.clone(),
                quantity,
            }),
            http::uri::PathAndQuery::from_static(RESERVE),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .map_err(|e| unavailable(&e))?;
    let remaining = reply.into_inner().remaining;
    log::info!(sku = sku.as_str(), remaining; "order placed");
    Ok(format!("reserved {quantity} of {sku}, {remaining} left\n"))
}

async fn storefront(
    addr: &str,
    inventory_url: String,
    client: &otlp::OtlpClient,
) -> Result<(), BoxError> {
    let channel = tonic::transport::Endpoint::from_shared(inventory_url)?.connect_lazy();
    let state = Storefront {
        inventory: tonic::client::Grpc::new(OtlpClientLayer::new(client).layer(channel)),
    };
    let app = axum::Router::new()
        .route("/orders/{sku}", axum::routing::post(place_order))
        .with_state(state)
        .layer(OtlpServerLayer::new(client));
    let listener = TcpListener::bind(addr).await?;
    listening(&listener)?;
    axum::serve(listener, app)
        .with_graceful_shutdown(until_terminated())
        .await?;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: shop inventory ADDR | shop storefront ADDR INVENTORY_URL";
    let guard = otlp::init()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["inventory", addr] => runtime.block_on(inventory(addr, guard.client())),
        ["storefront", addr, url] => {
            runtime.block_on(storefront(addr, url.to_owned(), guard.client()))
        }
        _ => Err(usage.into()),
    };
    drop(runtime);
    // Exports what is left, whatever the result.
    guard.shutdown()?;
    result
}
