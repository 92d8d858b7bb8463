//! Runs the propagation and tracing_layer examples against an in-process receiver.

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

/// Runs the `tracing_layer` example's work under `registry().with(OtlpLayer::from_client(..))`
/// (scoped to the future, not global) and checks the exported span tree and the log records'
/// correlation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_layer_exports_a_span_tree_with_correlated_logs() {
    use otlp_proto::common::Value;
    use otlp_proto::trace::{Span, SpanKind, StatusCode};
    use tracing::instrument::WithSubscriber as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let embedded = EmbeddedReceiver::start().await.expect("receiver");
    let client = client_for("tracing-example", Some(embedded.endpoint.as_str()))
        .await
        .expect("client");
    let subscriber = tracing_subscriber::registry().with(otlp_tracing::OtlpLayer::from_client(
        &client,
        examples::TRACING_SCOPE,
    ));
    let outcome = examples::process_orders()
        .with_subscriber(subscriber)
        .await
        .expect("tracing_layer example");
    assert_eq!(
        outcome.orders,
        [(1, true), (examples::FAILING_ORDER, false)]
    );
    client.shutdown(examples::WAIT).await.expect("shutdown");

    let spans: Vec<Span> = embedded.spans().into_iter().map(|(_, s)| s).collect();
    let records = embedded.log_records();
    let int_attr = |span: &Span, key: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .and_then(|v| match v {
                Value::IntValue(i) => Some(*i),
                _ => None,
            })
    };
    let named =
        |name: &str| -> Vec<&Span> { spans.iter().filter(|s| s.name.as_str() == name).collect() };
    let children = |parent: &Span, name: &str| -> Vec<&Span> {
        spans
            .iter()
            .filter(|s| s.name.as_str() == name && s.parent_span_id == parent.span_id)
            .collect()
    };
    let orders = named("handle_order");
    assert_eq!(orders.len(), 2, "{spans:?}");
    // 2 orders, 2 stock checks, 1 payment.
    assert_eq!(spans.len(), 5, "{spans:?}");
    let order = |id: i64| {
        *orders
            .iter()
            .find(|s| int_attr(s, "order_id") == Some(id))
            .unwrap_or_else(|| panic!("no handle_order with order_id={id} in {orders:?}"))
    };
    let (ok, failed) = (order(1), order(2));
    assert_ne!(ok.trace_id, failed.trace_id, "each order is its own trace");
    for root in [ok, failed] {
        assert!(root.parent_span_id.is_empty(), "{root:?}");
        assert_eq!(root.kind, SpanKind::Server as i32, "{root:?}");
    }
    let stock = children(ok, "check_stock");
    let payment = children(ok, "charge_payment");
    assert_eq!((stock.len(), payment.len()), (1, 1), "{spans:?}");
    assert_eq!(stock[0].trace_id, ok.trace_id);
    assert_eq!(stock[0].kind, SpanKind::Internal as i32);
    assert_eq!(payment[0].trace_id, ok.trace_id);
    assert_eq!(payment[0].kind, SpanKind::Client as i32);
    assert_eq!(int_attr(payment[0], "amount_cents"), Some(750));
    let status = |s: &Span| {
        s.status
            .as_ref()
            .map(|st| (st.code, st.message.as_str().to_owned()))
    };
    assert_eq!(
        status(payment[0]).map(|(c, _)| c),
        Some(StatusCode::Ok as i32)
    );
    let failed_stock = children(failed, "check_stock");
    assert_eq!(failed_stock.len(), 1, "{spans:?}");
    assert!(children(failed, "charge_payment").is_empty());
    assert_eq!(
        status(failed),
        Some((StatusCode::Error as i32, "out of stock".to_owned()))
    );

    // Each event is a log record carrying the trace and span id of the span it was emitted in.
    let body =
        |r: &otlp_proto::logs::LogRecord| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(Value::StringValue(s)) => s.as_str().to_owned(),
            other => panic!("log record body {other:?}"),
        };
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let span = spans
                .iter()
                .find(|s| s.span_id == r.span_id && s.trace_id == r.trace_id)
                .unwrap_or_else(|| panic!("log record {r:?} is not correlated with a span"));
            let order = if span.trace_id == ok.trace_id {
                "ok"
            } else {
                "failed"
            };
            (format!("{order} {}", span.name.as_str()), body(r))
        })
        .collect();
    seen.sort();
    let want = [
        ("failed check_stock", "stock checked"),
        ("failed handle_order", "order received"),
        ("failed handle_order", "order rejected: out of stock"),
        ("ok charge_payment", "payment charged"),
        ("ok check_stock", "stock checked"),
        ("ok handle_order", "order accepted"),
        ("ok handle_order", "order received"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(s, b)| ((*s).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(seen, want);
    let warn = records
        .iter()
        .find(|r| body(r) == "order rejected: out of stock")
        .expect("the warn! record");
    assert_eq!(
        (warn.severity_number, warn.severity_text.as_str()),
        (13, "WARN")
    );
    assert_eq!(warn.span_id, failed.span_id);
    embedded.receiver.shutdown().await;
}
