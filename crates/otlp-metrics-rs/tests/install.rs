//! The global recorder: installed once; a second install is an error, not a panic. (Its own
//! test binary: the global recorder is per process.)

use otlp_metrics_rs::OtlpRecorder;
use otlp_proto::metrics::{MetricData, NumberValue};
use test_support::client::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_install_records_and_a_second_is_an_error() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    OtlpRecorder::new(client)
        .install()
        .expect("the first install");
    metrics::counter!("requests", "route" => "/x").increment(1);

    let second = OtlpRecorder::with_scope(client, "other").install();
    let err = second.expect_err("a second install");
    assert!(err.to_string().contains("already installed"), "{err}");

    let request = client.collect_metrics();
    let scope = &request.resource_metrics[0].scope_metrics[0];
    assert_eq!(
        scope.scope.as_ref().map(|s| s.name.as_str()),
        Some("metrics")
    );
    let Some(MetricData::Sum(sum)) = &scope.metrics[0].data else {
        panic!("{scope:?}");
    };
    assert_eq!(sum.data_points[0].value, Some(NumberValue::AsInt(1)));
}
