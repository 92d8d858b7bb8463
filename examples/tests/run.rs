//! Runs the propagation example against an in-process receiver.

use examples::{EmbeddedReceiver, client_for, run_propagation};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propagation_continues_the_trace_across_services() {
    let embedded = EmbeddedReceiver::start().await.expect("receiver");
    let endpoint = Some(embedded.endpoint.as_str());
    let frontend = client_for("frontend", endpoint).await.expect("frontend");
    let backend = client_for("backend", endpoint).await.expect("backend");
    let outcome = run_propagation(&frontend, &backend)
        .await
        .expect("propagation example");
    assert_eq!(outcome.tenant_seen_by_backend, "acme corp");
    assert_eq!(
        outcome.server_span.trace_id(),
        outcome.client_span.trace_id()
    );

    let spans = embedded.spans();
    let find = |service: &str, name: &str| {
        spans
            .iter()
            .find(|(s, span)| s == service && span.name.as_str() == name)
            .map(|(_, span)| span.clone())
            .unwrap_or_else(|| panic!("no {service} span {name:?} in {spans:?}"))
    };
    let root = find("frontend", "checkout");
    let call = find("frontend", "GET /inventory");
    let server = find("backend", "GET /inventory");
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert_eq!(call.trace_id, root.trace_id);
    assert_eq!(server.trace_id, call.trace_id);
    assert_eq!(call.parent_span_id, root.span_id);
    assert_eq!(server.parent_span_id, call.span_id);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(
        server.span_id.as_ref(),
        outcome.server_span.span_id().to_bytes()
    );
    frontend.shutdown(examples::WAIT).await.expect("shutdown");
    backend.shutdown(examples::WAIT).await.expect("shutdown");
    embedded.receiver.shutdown().await;
}
