//! Metrics through the client (work in progress, issue 14): instruments made by
//! `client.meter()`, read with `collect_metrics`, and exported through the client's transport to a
//! receiver that decodes the same values.

use otlp::{Exporter, Protocol};
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{MetricData, NumberValue};
use otlp_proto::{Request, Signal};
use test_support::client::{Harness, exporter_config};

#[tokio::test]
async fn instruments_are_collected_and_exported_with_their_values() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let meter = client.meter("shop");
    assert_eq!(format!("{:?}", client.meter("shop")), format!("{meter:?}"));
    let orders = meter.u64_counter("orders").with_unit("{order}").build();
    let basket = meter
        .f64_histogram("basket.value")
        .with_boundaries([10.0, 100.0])
        .build();
    let eu = [KeyValue::new("region", "eu")];
    orders.add(3, &eu);
    client
        .meter("shop")
        .u64_counter("orders.other")
        .build()
        .add(1, &[]);
    orders.bind(&eu).record(2);
    basket.record(42.0, &eu);

    let request = client.collect_metrics();
    let scopes = &request.resource_metrics[0].scope_metrics;
    assert_eq!(scopes.len(), 1, "one meter per scope name");
    let orders_metric = scopes[0]
        .metrics
        .iter()
        .find(|m| m.name == "orders")
        .unwrap();
    let Some(MetricData::Sum(sum)) = &orders_metric.data else {
        panic!("{orders_metric:?}");
    };
    assert_eq!(sum.data_points[0].value, Some(NumberValue::AsInt(5)));
    assert_eq!(sum.data_points[0].attributes, eu);

    // Until the periodic reader lands, through an exporter of the same configuration.
    let config = exporter_config(&harness.receiver, Protocol::HttpProtobuf);
    Exporter::new(config)
        .expect("exporter")
        .export(&request)
        .await
        .expect("the receiver accepts it");
    let received = harness.requests().await;
    let metrics: Vec<_> = received
        .iter()
        .filter(|r| r.signal() == Signal::Metrics)
        .collect();
    assert_eq!(metrics, [&Request::Metrics(request)]);
}
