//! Response bodies: the export responses and error statuses both transports send, and the body
//! type that carries them (with gRPC trailers), or the frames of a streaming call as its task
//! produces them.

use crate::Ack;
use crate::server::activity::RequestGuard;
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use otlp_proto::collector::{
    ExportLogsServiceResponse, ExportMetricsServiceResponse, ExportProfilesServiceResponse,
    ExportTraceServiceResponse,
};
use otlp_proto::{Encoding, ExportResponse, Message, RevBuf, Signal, grpc, rpc};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// How a response message is put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// OTLP/HTTP, in the request's encoding.
    Http(Encoding),
    /// One length-prefixed gRPC message.
    Grpc,
}

/// The `Export*ServiceResponse` of `signal` for `ack`: empty, or with a `partial_success`.
pub(crate) fn export_response(signal: Signal, ack: &Ack, wire: Wire) -> Bytes {
    fn encode<R: ExportResponse>(ack: &Ack, wire: Wire) -> Bytes {
        let response = if ack.is_partial() {
            R::rejecting(ack.rejected, &ack.message)
        } else {
            R::default()
        };
        encode_message(&response, wire)
    }
    // The one place the signal picks a type: everything else is generic.
    match signal {
        Signal::Traces => encode::<ExportTraceServiceResponse>(ack, wire),
        Signal::Metrics => encode::<ExportMetricsServiceResponse>(ack, wire),
        Signal::Logs => encode::<ExportLogsServiceResponse>(ack, wire),
        Signal::Profiles => encode::<ExportProfilesServiceResponse>(ack, wire),
    }
}

/// A `google.rpc.Status` error body in the request's encoding.
pub(crate) fn status_body(status: &rpc::Status, encoding: Encoding) -> Bytes {
    encode_message(status, Wire::Http(encoding))
}

fn encode_message<M: Message>(message: &M, wire: Wire) -> Bytes {
    match wire {
        Wire::Http(Encoding::Protobuf) => message.encode_to_bytes(),
        Wire::Http(Encoding::Json) => Bytes::from(message.to_json()),
        Wire::Grpc => {
            let mut buf = RevBuf::new();
            grpc::encode_frame(message, &mut buf);
            buf.into_bytes()
        }
    }
}

/// A response body of at most one data frame, then optional trailers; or, for a streaming call,
/// the frames its task sends, until the task drops its sender.
#[derive(Debug, Default)]
pub(crate) struct ReplyBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
    stream: Option<mpsc::Receiver<Frame<Bytes>>>,
    /// A streaming call keeps its connection busy (so not idle, nor evicted) as long as the
    /// body lives; the call's own idle timeout bounds it instead.
    busy: Option<RequestGuard>,
}

impl ReplyBody {
    /// No body at all (a gRPC trailers-only response ends the stream with its headers).
    pub(crate) fn empty() -> Self {
        ReplyBody::default()
    }

    /// A body of `data`.
    pub(crate) fn full(data: Bytes) -> Self {
        ReplyBody {
            data: Some(data),
            ..ReplyBody::default()
        }
    }

    /// The frames `frames` yields, as the streaming call's task sends them.
    pub(crate) fn streaming(frames: mpsc::Receiver<Frame<Bytes>>) -> Self {
        ReplyBody {
            stream: Some(frames),
            ..ReplyBody::default()
        }
    }

    /// Keeps `busy` until a streaming body ends; any other body has been produced whole, and
    /// the request is over: `busy` is dropped at once.
    pub(crate) fn holding(mut self, busy: RequestGuard) -> Self {
        if self.stream.is_some() {
            self.busy = Some(busy);
        }
        self
    }

    /// `data` followed by `trailers`.
    pub(crate) fn with_trailers(data: Bytes, trailers: HeaderMap) -> Self {
        ReplyBody {
            data: Some(data),
            trailers: Some(trailers),
            ..ReplyBody::default()
        }
    }
}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(frames) = &mut this.stream {
            let frame = std::task::ready!(frames.poll_recv(cx));
            if frame.is_none() {
                this.stream = None;
                this.busy = None;
            }
            return Poll::Ready(frame.map(Ok));
        }
        let frame = match this.data.take() {
            Some(data) => Some(Frame::data(data)),
            None => this.trailers.take().map(Frame::trailers),
        };
        Poll::Ready(frame.map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none() && self.stream.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.stream.is_some() {
            return SizeHint::default();
        }
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn partial_success_is_encoded_for_every_signal() {
        let ack = Ack::partial(2, "too old");
        let body = export_response(Signal::Logs, &ack, Wire::Http(Encoding::Protobuf));
        let resp = ExportLogsServiceResponse::decode(&body).unwrap();
        assert_eq!(resp.partial_success(), Some((2, "too old")));

        let body = export_response(Signal::Profiles, &ack, Wire::Http(Encoding::Json));
        let resp = ExportProfilesServiceResponse::from_json(&body).unwrap();
        assert_eq!(resp.partial_success(), Some((2, "too old")));

        for signal in Signal::ALL {
            assert!(export_response(signal, &Ack::ok(), Wire::Http(Encoding::Protobuf)).is_empty());
            assert_eq!(
                export_response(signal, &Ack::ok(), Wire::Http(Encoding::Json)),
                "{}"
            );
            assert_eq!(
                export_response(signal, &Ack::ok(), Wire::Grpc),
                &[0u8, 0, 0, 0, 0][..]
            );
        }
    }

    #[tokio::test]
    async fn body_yields_data_then_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", 0.into());
        let body = ReplyBody::with_trailers(Bytes::from_static(b"x"), trailers.clone());
        assert_eq!(body.size_hint().exact(), Some(1));
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "x");
        assert!(ReplyBody::empty().is_end_stream());
        assert!(!ReplyBody::full(Bytes::new()).is_end_stream());
    }
}
