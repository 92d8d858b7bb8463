//! Propagation through the client: `OtlpClient::inject` writes the current context (span
//! context and baggage), `OtlpClient::extract` reads one to attach, and `OTEL_PROPAGATORS`
//! chooses the propagators.

mod common;

use common::child::in_child;
use http::HeaderMap;
use otlp::trace::propagation::{Baggage, CompositePropagator, Context};
use otlp::trace::{Sampler, SpanContext};
use otlp::{ClientConfig, ExporterConfig, OtlpClient};
use std::time::Duration;

/// A client that samples every span and exports nothing (its exporter is disabled).
fn client(config: ClientConfig) -> OtlpClient {
    OtlpClient::new_blocking(
        config
            .with_exporter(ExporterConfig::default().with_disabled(true))
            .with_sampler(Sampler::AlwaysOn),
    )
    .expect("client")
}

fn baggage() -> Baggage {
    let mut b = Baggage::new();
    assert!(b.insert("tenant", "acme corp"));
    assert!(b.insert_with_metadata("region", "eu", "ttl=60"));
    b
}

#[test]
fn span_context_and_baggage_round_trip_through_headers() {
    let sender = client(ClientConfig::new().with_propagator(CompositePropagator::w3c()));
    let receiver = client(ClientConfig::new().with_propagator(CompositePropagator::w3c()));
    let tracer = sender.tracer("propagation");

    let _baggage = baggage().attach();
    let span = tracer.start("outgoing request");
    let sent = span.span_context().clone();
    let mut headers = HeaderMap::new();
    {
        let _entered = span.enter();
        sender.inject(&mut headers);
    }
    assert_eq!(
        headers["traceparent"],
        format!("00-{}-{}-01", sent.trace_id(), sent.span_id())
    );
    assert_eq!(headers["baggage"], "tenant=acme%20corp,region=eu;ttl=60");

    let cx = receiver.extract(&headers);
    assert_eq!(cx.span.trace_id(), sent.trace_id());
    assert_eq!(cx.span.span_id(), sent.span_id());
    assert!(cx.span.is_remote() && cx.span.is_sampled());
    assert_eq!(cx.baggage, baggage());

    // A thread with nothing current: attaching the extracted context makes both current.
    let child = std::thread::spawn(move || {
        assert!(Baggage::current().is_empty());
        let _attached = cx.attach();
        assert_eq!(Baggage::current(), baggage());
        let remote = SpanContext::current();
        let child = receiver.tracer("server").start("handle request");
        let mut out = HeaderMap::new();
        {
            let _entered = child.enter();
            // Entering a span keeps the extracted baggage.
            assert_eq!(Baggage::current(), baggage());
            receiver.inject(&mut out);
        }
        (remote, child.span_context().clone(), out)
    })
    .join()
    .expect("thread");
    let (remote, server_span, out) = child;
    assert_eq!(remote.span_id(), sent.span_id());
    assert_eq!(server_span.trace_id(), sent.trace_id());
    assert_ne!(server_span.span_id(), sent.span_id());
    assert_eq!(out["baggage"], headers["baggage"]);
    assert!(
        out["traceparent"]
            .to_str()
            .expect("text")
            .contains(&server_span.span_id().to_string())
    );
    sender
        .shutdown_blocking(Duration::from_secs(5))
        .expect("shutdown");
}

#[test]
fn nothing_current_injects_nothing() {
    let c = client(ClientConfig::new().with_propagator(CompositePropagator::w3c()));
    let mut headers = HeaderMap::new();
    c.inject(&mut headers);
    assert!(headers.is_empty(), "{headers:?}");
    assert_eq!(c.extract(&headers), Context::default());
    assert_eq!(
        c.propagator().fields(),
        ["traceparent", "tracestate", "baggage"]
    );
}

#[test]
fn default_propagators_are_tracecontext_and_baggage() {
    if !in_child("default_propagators_are_tracecontext_and_baggage", &[]) {
        return;
    }
    let c = client(ClientConfig::new());
    assert_eq!(
        c.propagator().fields(),
        ["traceparent", "tracestate", "baggage"]
    );
}

#[test]
fn otel_propagators_tracecontext_ignores_baggage() {
    let vars = [("OTEL_PROPAGATORS", "tracecontext")];
    if !in_child("otel_propagators_tracecontext_ignores_baggage", &vars) {
        return;
    }
    let c = client(ClientConfig::new());
    assert_eq!(c.propagator().fields(), ["traceparent", "tracestate"]);
    let _baggage = baggage().attach();
    let span = c.tracer("propagation").start("request");
    let mut headers = HeaderMap::new();
    {
        let _entered = span.enter();
        c.inject(&mut headers);
    }
    assert!(headers.contains_key("traceparent"));
    assert!(!headers.contains_key("baggage"), "{headers:?}");

    headers.insert("baggage", http::HeaderValue::from_static("k=v"));
    let cx = c.extract(&headers);
    assert!(cx.span.is_valid());
    assert!(cx.baggage.is_empty());
}

#[test]
fn a_bad_otel_propagators_names_the_variable() {
    let vars = [("OTEL_PROPAGATORS", "tracecontext,b3")];
    if !in_child("a_bad_otel_propagators_names_the_variable", &vars) {
        return;
    }
    let e = OtlpClient::new_blocking(ClientConfig::new().with_exporter(ExporterConfig::default()))
        .expect_err("b3 is not supported");
    assert!(e.is_config(), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("OTEL_PROPAGATORS"), "{msg}");
    assert!(msg.contains("b3"), "{msg}");
    // Set in code, the propagator wins over the variable.
    assert!(
        OtlpClient::new_blocking(
            ClientConfig::new()
                .with_exporter(ExporterConfig::default())
                .with_propagator(CompositePropagator::w3c()),
        )
        .is_ok()
    );
}
