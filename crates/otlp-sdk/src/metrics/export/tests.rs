//! Points whose attributes are kept apart encode as the same metrics as points that carry them.

use super::*;
use crate::metrics::config::Settings;
use crate::metrics::meter::Meter;
use crate::metrics::{Aggregation, KeyValue as Kv, View};
use otlp_proto::Str;
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{AnyValue, ArrayValue, InstrumentationScope, Value};

/// Attribute sets to record under: none, short, long (a string past the inline size and past
/// a one-byte length), a repeated key, and typed values.
fn attribute_sets() -> Vec<Vec<Kv>> {
    let long = "x".repeat(300);
    vec![
        vec![],
        vec![Kv::new("route", "/a")],
        vec![Kv::new("route", long.clone()), Kv::new("zone", "é-1")],
        vec![Kv::new("k", 1i64), Kv::new("k", 2i64), Kv::new("b", true)],
        vec![
            Kv::new("ratio", 0.5),
            Kv::new(
                "list",
                AnyValue::new(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue::from("a"), AnyValue::from(long)],
                })),
            ),
        ],
    ]
}

/// Every kind of metric the SDK collects, recorded under every set of [`attribute_sets`].
fn collected() -> Vec<Collected> {
    let settings = Settings {
        views: vec![
            View::new()
                .with_instrument_name("exponential")
                .with_aggregation(Aggregation::base2_exponential_histogram()),
        ],
        ..Settings::default()
    };
    let scope = InstrumentationScope {
        name: Str::from_static("export"),
        ..InstrumentationScope::default()
    };
    let meter = Meter::new(scope, Str::new(), 0, Arc::new(settings));
    let counter = meter.u64_counter("counter").build();
    let up_down = meter.i64_up_down_counter("up_down").build();
    let gauge = meter.f64_gauge("gauge").build();
    let histogram = meter.f64_histogram("histogram").build();
    let exponential = meter.f64_histogram("exponential").build();
    let sets = attribute_sets();
    let observed = sets.clone();
    let _observable = meter
        .i64_observable_gauge("observed")
        .with_callback(move |o| {
            for (i, attrs) in observed.iter().enumerate() {
                o.observe(i as i64, attrs);
            }
        })
        .build();
    for (i, attrs) in sets.iter().enumerate() {
        counter.add(i as u64 + 1, attrs);
        up_down.add(-(i as i64), attrs);
        gauge.record(i as f64, attrs);
        histogram.record(i as f64 * 10.0, attrs);
        exponential.record(i as f64 + 0.5, attrs);
    }
    meter.collect()
}

fn encoded(metrics: Vec<Collected>, encoding: Encoding) -> Bytes {
    let mut batch: Vec<ScopedMetric> = metrics
        .into_iter()
        .map(|metric| ScopedMetric { scope: 0, metric })
        .collect();
    let mut encoder = ScopedMetricEncoder::new(Resource::default(), Arc::new(Scopes::default()));
    encoder.encode(&mut batch, encoding).message()
}

fn materialized(metrics: &[Collected]) -> Vec<Metric> {
    metrics
        .iter()
        .cloned()
        .map(Collected::into_metric)
        .collect()
}

fn metrics_of(request: ExportMetricsServiceRequest) -> Vec<Metric> {
    request
        .resource_metrics
        .into_iter()
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .collect()
}

#[test]
fn every_kind_of_metric_keeps_its_points_attributes_apart() {
    let metrics = collected();
    assert_eq!(metrics.len(), 6);
    for m in &metrics {
        assert_eq!(
            m.attributes.len(),
            attribute_sets().len(),
            "{}",
            m.metric.name
        );
    }
}

#[test]
fn protobuf_carries_the_attributes_kept_apart() {
    let metrics = collected();
    let expected = materialized(&metrics);
    // The materialized points carry the canonical attributes: sorted, the last of a key kept.
    let Some(MetricData::Sum(sum)) = &expected[0].data else {
        panic!("{:?}", expected[0]);
    };
    let repeated = sum
        .data_points
        .iter()
        .find(|p| p.attributes.iter().any(|a| a.key == "k"))
        .expect("the repeated-key point");
    assert_eq!(
        repeated.attributes,
        [Kv::new("b", true), Kv::new("k", 2i64)]
    );
    let decoded = ExportMetricsServiceRequest::decode(&encoded(metrics, Encoding::Protobuf))
        .expect("decodes");
    assert_eq!(metrics_of(decoded), expected);
}

#[test]
fn json_carries_them_too() {
    let metrics = collected();
    let expected = materialized(&metrics);
    let decoded =
        ExportMetricsServiceRequest::from_json(&encoded(metrics, Encoding::Json)).expect("decodes");
    assert_eq!(metrics_of(decoded), expected);
}

#[test]
fn retagging_keeps_lengths_of_several_bytes() {
    let long = Kv::new("long", "y".repeat(200));
    let key = crate::metrics::series::canonical_key(&[long.clone(), Kv::new("a", 1i64)]);
    for (field_key, field) in [(NUMBER_ATTRIBUTES, 7), ((9 << 3) | 2, 9), (LIST_KEY, 1)] {
        let mut attributes = PointAttributes::default();
        attributes.push(&key, field_key);
        attributes.push(&[], field_key);
        assert_eq!(attributes.len(), 2);
        assert!(attributes.get(1).is_empty());
        // Decoded as a message whose field `field` is repeated attributes.
        let bytes = Bytes::copy_from_slice(attributes.get(0));
        let mut seen = Vec::new();
        let mut r = Reader::new(&bytes);
        while r.remaining() > 0 {
            let (tag, wt) = r.key().expect("key");
            assert_eq!(tag, field);
            let mut kv = KeyValue::default();
            codec::message::merge_into(&mut kv, wt, &mut r).expect("attribute");
            seen.push(kv);
        }
        assert_eq!(seen, [Kv::new("a", 1i64), long.clone()]);
    }
}

/// An OTAP stream given the collected metrics (attributes kept apart) encodes the batch the
/// request of the protobuf body would make, and the fallback sends the same metrics.
#[cfg(feature = "arrow")]
#[test]
fn otap_streams_read_the_attributes_kept_apart() {
    use crate::transport::OtapEncoder;
    let metrics = collected();
    let body = encoded(metrics.clone(), Encoding::Protobuf);
    let request = ExportMetricsServiceRequest::decode(&body).expect("decodes");
    let want = otlp_otap::MetricsEncoder::new()
        .encode(&request)
        .expect("encodes");
    let mut batch: Vec<ScopedMetric> = metrics
        .into_iter()
        .map(|metric| ScopedMetric { scope: 0, metric })
        .collect();
    let mut encoder = ScopedMetricEncoder::new(Resource::default(), Arc::new(Scopes::default()));
    let stream = encoder.stream_batch(&mut batch).expect("items");
    let mut otap = OtapEncoder::Metrics(otlp_otap::MetricsEncoder::new());
    let got = stream.encode_otap(&mut otap).expect("encodes");
    assert_eq!(got.encode_to_bytes(), want.encode_to_bytes());
    let fallback =
        ExportMetricsServiceRequest::decode(&stream.encode_protobuf().message()).expect("decodes");
    assert_eq!(fallback, request);
}
