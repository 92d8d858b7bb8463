//! The servers. Both transports route a request to a signal, read its body, and then share one
//! path: [`Shared::export`] decodes, waits if the sink asks to, consumes, and
//! [`Shared::report`] tells the observer.

pub(crate) mod activity;
pub(crate) mod conn;
mod grpc;
mod http;
pub(crate) mod limits;
mod otap;
mod otap_headers;

use crate::body;
use crate::failure::Failure;
use crate::memory::{MemoryLimiter, Permit};
use crate::summary::{Observer, RequestSummary};
use crate::{Ack, Received, Sink, Transport};
use ::http::HeaderMap;
use bytes::Bytes;
use otlp_proto::{Compression, DecodeLimits, Encoding, Signal};
use std::sync::Arc;

/// What every connection of a receiver shares.
pub(crate) struct Shared {
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) observer: Option<Observer>,
    pub(crate) max_request_size: usize,
    pub(crate) decode_limits: DecodeLimits,
    pub(crate) memory: Arc<MemoryLimiter>,
    /// The header, body and idle timeouts.
    pub(crate) timeouts: activity::Timeouts,
    /// Every open connection of the receiver, both listeners, for the connection limit.
    pub(crate) connections: Arc<limits::Registry>,
    /// The dictionary and schema bytes one OTAP stream's decoder may keep between batches.
    pub(crate) otap_state_limit: usize,
}

/// One export request once it is routed: what the observer is told, filled in as it is learnt.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    pub(crate) signal: Signal,
    pub(crate) transport: Transport,
    pub(crate) encoding: Encoding,
    pub(crate) compression: Compression,
    pub(crate) wire_bytes: usize,
    pub(crate) items: usize,
}

impl Exchange {
    pub(crate) fn new(
        signal: Signal,
        transport: Transport,
        encoding: Encoding,
        compression: Compression,
    ) -> Self {
        Exchange {
            signal,
            transport,
            encoding,
            compression,
            wire_bytes: 0,
            items: 0,
        }
    }
}

impl Shared {
    /// Decompresses and decodes `payload` (counting what it takes in `permit`), waits as long as
    /// the sink asks, and hands the request to the sink. `exchange.wire_bytes` must be set by the
    /// caller.
    pub(crate) async fn export(
        &self,
        exchange: &mut Exchange,
        payload: Bytes,
        headers: HeaderMap,
        permit: &mut Permit,
    ) -> Result<Ack, Failure> {
        let request = body::decode(
            exchange.signal,
            exchange.encoding,
            exchange.compression,
            payload,
            self.max_request_size,
            &self.decode_limits,
            permit,
        )?;
        exchange.items = request.item_count();
        self.hand_over(exchange, request, headers).await
    }

    /// Waits as long as the sink asks, then hands it `request`, decoded.
    pub(crate) async fn hand_over(
        &self,
        exchange: &Exchange,
        request: otlp_proto::Request,
        headers: HeaderMap,
    ) -> Result<Ack, Failure> {
        if let Some(delay) = self.sink.delay() {
            tokio::time::sleep(delay).await;
        }
        let received = Received {
            request,
            transport: exchange.transport,
            encoding: exchange.encoding,
            compression: exchange.compression,
            wire_bytes: exchange.wire_bytes,
            headers,
        };
        Ok(self.sink.consume(received)?)
    }

    /// Tells the observer, if any, how `exchange` ended.
    pub(crate) fn report(&self, exchange: &Exchange, outcome: &Result<Ack, Failure>) {
        let Some(observer) = &self.observer else {
            return;
        };
        let summary = RequestSummary {
            signal: exchange.signal,
            transport: exchange.transport,
            encoding: exchange.encoding,
            compression: exchange.compression,
            items: exchange.items,
            wire_bytes: exchange.wire_bytes,
            rejected: outcome.as_ref().map_or(0, |ack| ack.rejected),
            outcome: match outcome {
                Ok(_) => Ok(()),
                Err(failure) => Err(match exchange.transport {
                    Transport::Http => format!("{}: {}", failure.http, failure.message),
                    Transport::Grpc | Transport::Otap => format!(
                        "{}: {}",
                        otlp_proto::grpc::code_name(failure.grpc),
                        failure.message
                    ),
                }),
            },
        };
        observer(&summary);
    }
}
