//! The Python SDK's OTLP metric exporters -> our receiver, field for field.
//!
//! `interop/python/sdk_metrics.py` records every instrument kind of the real OpenTelemetry
//! Python SDK (counter, up-down counter, explicit and exponential histograms, gauge, observable
//! counter) in two collection cycles, exports each through the official exporter of one
//! protocol (gRPC, HTTP/protobuf, HTTP/JSON) with cumulative or delta temporality, and writes
//! both what it recorded and what the SDK handed the exporter. Two checks per export:
//!
//! 1. what our receiver decoded equals, field by field, what the Python SDK exported (names,
//!    units, descriptions, kinds, temporality, monotonicity, attributes, int or double values,
//!    bucket bounds and counts, exponential scale, zero count and buckets, min, max, times);
//! 2. the decoded values equal what we compute by hand from the recorded values (sums per
//!    window, last values, bucket counts; exponential buckets through the specification's
//!    mapping function at the decoded scale), and the times are ordered as the temporality says.
//!
//! Needs only the Python peers (`interop/python/setup.sh`), not the Go ones.

use otlp_interop::{command, python_peers, repo_root, run, temp_dir};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_proto::metrics::{
    Buckets, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, MetricData,
    NumberDataPoint, NumberValue,
};
use otlp_proto::{Encoding, Request};
use otlp_receiver::Transport;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::Duration;

const DELTA: i64 = 1;
const CUMULATIVE: i64 = 2;
const LATENCY_BOUNDS: [f64; 5] = [0.0, 5.0, 10.0, 25.0, 50.0];

/// Runs `sdk_metrics.py` against a fresh receiver; returns what the script wrote and the
/// metrics requests the receiver decoded, in arrival order.
async fn python_sends(
    protocol: &str,
    temporality: &str,
) -> (Json, Vec<ExportMetricsServiceRequest>) {
    let (receiver, sink, addr) = test_support::client::receiver_for(protocol).await;
    let dir = temp_dir(&format!(
        "python-metrics-{}-{temporality}",
        protocol.replace('/', "-")
    ));
    let out = dir.join("sent.json");
    let peers = tokio::task::spawn_blocking(python_peers)
        .await
        .expect("join");
    let python = if protocol == "http/json" {
        &peers.json
    } else {
        &peers.sdk
    };
    let mut cmd = command(python);
    cmd.arg(repo_root().join("interop/python/sdk_metrics.py"))
        .args([
            "--endpoint",
            &format!("http://{addr}"),
            "--protocol",
            protocol,
        ])
        .args([
            "--temporality",
            temporality,
            // The delta runs also check compressed bodies (the JSON exporter's run is plain).
            "--compression",
            if temporality == "delta" && protocol != "http/json" {
                "gzip"
            } else {
                "none"
            },
            "--timeout",
            "10",
            "--deadline",
            "90",
            "--out",
        ])
        .arg(&out);
    let name = format!("sdk_metrics.py --protocol {protocol} --temporality {temporality}");
    let done = tokio::task::spawn_blocking(move || run(&name, cmd, Duration::from_secs(120)))
        .await
        .expect("join");
    done.assert_success();
    // Each export was answered before the script went on, so both are here already.
    assert!(
        sink.wait_for_requests(2, Duration::from_secs(30)).await,
        "{} requests",
        sink.len()
    );
    receiver.shutdown().await;
    let (transport, encoding) = match protocol {
        "grpc" => (Transport::Grpc, Encoding::Protobuf),
        "http/protobuf" => (Transport::Http, Encoding::Protobuf),
        _ => (Transport::Http, Encoding::Json),
    };
    let got = sink
        .requests()
        .into_iter()
        .map(|r| {
            assert_eq!(
                (r.transport, r.encoding),
                (transport, encoding),
                "{protocol}"
            );
            match r.request {
                Request::Metrics(m) => m,
                other => panic!("{protocol}: a {:?} request", other.signal()),
            }
        })
        .collect();
    let sent = std::fs::read(&out).expect("sdk_metrics.py wrote its --out file");
    std::fs::remove_dir_all(&dir).expect("clean up");
    (serde_json::from_slice(&sent).expect("--out is JSON"), got)
}

// --------------------------------------------------------------------------------------------
// 1. Our decoding, in the shape sdk_metrics.py writes the SDK's export data in

fn any_value(value: Option<&AnyValue>) -> Json {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => json!(&**s),
        Some(Value::BoolValue(b)) => json!(b),
        Some(Value::IntValue(i)) => json!(i),
        Some(Value::DoubleValue(d)) => json!(d),
        other => panic!("an attribute value the workload does not send: {other:?}"),
    }
}

fn attributes(kvs: &[KeyValue]) -> Json {
    Json::Object(
        kvs.iter()
            .map(|kv| (kv.key.to_string(), any_value(kv.value.as_ref())))
            .collect(),
    )
}

fn number_point(p: &NumberDataPoint) -> Json {
    let value = match p.value {
        Some(NumberValue::AsInt(i)) => json!({"as_int": i}),
        Some(NumberValue::AsDouble(d)) => json!({"as_double": d}),
        None => Json::Null,
    };
    json!({"attributes": attributes(&p.attributes), "start_time_unix_nano": p.start_time_unix_nano,
           "time_unix_nano": p.time_unix_nano, "value": value})
}

fn histogram_point(p: &HistogramDataPoint) -> Json {
    json!({"attributes": attributes(&p.attributes), "start_time_unix_nano": p.start_time_unix_nano,
           "time_unix_nano": p.time_unix_nano, "count": p.count, "sum": p.sum,
           "bucket_counts": p.bucket_counts, "explicit_bounds": p.explicit_bounds,
           "min": p.min, "max": p.max})
}

fn buckets(b: Option<&Buckets>) -> Json {
    let b = b.cloned().unwrap_or_default();
    json!({"offset": b.offset, "bucket_counts": b.bucket_counts})
}

fn exponential_point(p: &ExponentialHistogramDataPoint) -> Json {
    json!({"attributes": attributes(&p.attributes), "start_time_unix_nano": p.start_time_unix_nano,
           "time_unix_nano": p.time_unix_nano, "count": p.count, "sum": p.sum, "scale": p.scale,
           "zero_count": p.zero_count, "positive": buckets(p.positive.as_ref()),
           "negative": buckets(p.negative.as_ref()), "flags": p.flags, "min": p.min, "max": p.max})
}

fn metric(m: &Metric) -> Json {
    let mut out = json!({"name": &*m.name, "description": &*m.description, "unit": &*m.unit});
    let fields = match m.data.as_ref().expect("metric data") {
        MetricData::Sum(s) => json!({"kind": "sum", "temporality": s.aggregation_temporality,
            "is_monotonic": s.is_monotonic, "points": s.data_points.iter().map(number_point).collect::<Vec<_>>()}),
        MetricData::Gauge(g) => json!({"kind": "gauge",
            "points": g.data_points.iter().map(number_point).collect::<Vec<_>>()}),
        MetricData::Histogram(h) => {
            json!({"kind": "histogram", "temporality": h.aggregation_temporality,
            "points": h.data_points.iter().map(histogram_point).collect::<Vec<_>>()})
        }
        MetricData::ExponentialHistogram(h) => json!({"kind": "exponential_histogram",
            "temporality": h.aggregation_temporality,
            "points": h.data_points.iter().map(exponential_point).collect::<Vec<_>>()}),
        MetricData::Summary(_) => panic!("{}: a summary", m.name),
    };
    out.as_object_mut()
        .expect("object")
        .extend(fields.as_object().expect("object").clone());
    out
}

fn request(r: &ExportMetricsServiceRequest) -> Json {
    let resource_metrics: Vec<Json> = r
        .resource_metrics
        .iter()
        .map(|rm| {
            let scope_metrics: Vec<Json> = rm
                .scope_metrics
                .iter()
                .map(|sm| {
                    let scope = sm.scope.clone().unwrap_or_default();
                    json!({"scope": {"name": &*scope.name, "version": &*scope.version},
                           "metrics": sm.metrics.iter().map(metric).collect::<Vec<_>>()})
                })
                .collect();
            let resource = rm.resource.clone().unwrap_or_default();
            json!({"resource": attributes(&resource.attributes), "scope_metrics": scope_metrics})
        })
        .collect();
    json!({"resource_metrics": resource_metrics})
}

/// Makes both sides comparable with `==` where only the JSON number type differs: floating
/// fields become doubles (Python writes an int sum of int values as an int), and Python's
/// `None` start time of a gauge point is the 0 on the wire.
fn normalize(value: &mut Json) {
    match value {
        Json::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), &mut *v) {
                    ("sum" | "min" | "max" | "as_double", Json::Number(n)) => {
                        *v = json!(n.as_f64().expect("a number"));
                    }
                    ("explicit_bounds", Json::Array(bounds)) => {
                        for b in bounds {
                            *b = json!(b.as_f64().expect("a bound"));
                        }
                    }
                    ("start_time_unix_nano", Json::Null) => *v = json!(0),
                    _ => normalize(v),
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn assert_decoded_as_sent(what: &str, sent: &Json, got: &ExportMetricsServiceRequest) {
    let (mut want, mut got) = (sent.clone(), request(got));
    normalize(&mut want);
    normalize(&mut got);
    let differences = otlp_interop::compare::diff(&want, &got);
    assert!(
        differences.is_empty(),
        "{what}: our receiver decoded {} field(s) differently from what the Python SDK sent:\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}

// --------------------------------------------------------------------------------------------
// 2. The values against the recorded ones

/// One value given to the Python API.
struct Recorded {
    cycle: u64,
    instrument: String,
    value: f64,
    series: String,
}

/// A series' identity: its attributes as sorted `key=value` text.
fn series_key(attributes: &Json) -> String {
    let sorted: BTreeMap<&String, String> = attributes
        .as_object()
        .expect("attributes are an object")
        .iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn recorded(sent: &Json) -> Vec<Recorded> {
    sent["recorded"]
        .as_array()
        .expect("recorded")
        .iter()
        .map(|r| Recorded {
            cycle: r["cycle"].as_u64().expect("cycle"),
            instrument: r["instrument"].as_str().expect("instrument").to_owned(),
            value: r["value"].as_f64().expect("value"),
            series: series_key(&r["attributes"]),
        })
        .collect()
}

/// The index of the exponential bucket holding `value` at `scale`: the specification's
/// mapping function, exact at powers of two (buckets are upper-inclusive).
fn exponential_index(value: f64, scale: i32) -> i32 {
    let bits = value.to_bits();
    let exponent = i32::try_from((bits >> 52) & 0x7ff).expect("11 bits") - 1023;
    let power_of_two = bits & ((1 << 52) - 1) == 0;
    if scale <= 0 {
        (exponent - i32::from(power_of_two)) >> -scale
    } else if power_of_two {
        (exponent << scale) - 1
    } else {
        (value.log2() * f64::from(1_u32 << scale)).ceil() as i32 - 1
    }
}

fn point_value(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(NumberValue::AsInt(i)) => i as f64,
        Some(NumberValue::AsDouble(d)) => d,
        None => panic!("a point without a value"),
    }
}

/// Checks one cycle's request against the recorded values; returns each point's
/// (metric, series) -> (start, time) for the ordering checks across cycles.
fn check_values(
    what: &str,
    delta: bool,
    cycle: u64,
    all: &[Recorded],
    got: &ExportMetricsServiceRequest,
) -> BTreeMap<(String, String), (u64, u64)> {
    let [rm] = got.resource_metrics.as_slice() else {
        panic!("{what}: {got:?}")
    };
    let [sm] = rm.scope_metrics.as_slice() else {
        panic!("{what}: {rm:?}")
    };
    let scope = sm.scope.clone().unwrap_or_default();
    assert_eq!(
        (&*scope.name, &*scope.version),
        ("py-metrics.scope", "0.2.0"),
        "{what}"
    );
    let resource = attributes(&rm.resource.clone().unwrap_or_default().attributes);
    assert_eq!(resource["service.name"], "py-metrics", "{what}");
    let names: Vec<&str> = sm.metrics.iter().map(|m| &*m.name).collect();
    let mut want_names = vec![
        "pym.requests",
        "pym.queue",
        "pym.latency",
        "pym.size",
        "pym.temperature",
        "pym.cpu_time",
    ];
    let mut sorted = names.clone();
    sorted.sort_unstable();
    want_names.sort_unstable();
    assert_eq!(sorted, want_names, "{what}");

    // The values of one instrument in this cycle's window, per series.
    let window = |instrument: &str, delta: bool| -> BTreeMap<String, Vec<f64>> {
        let mut out = BTreeMap::<String, Vec<f64>>::new();
        for r in all.iter().filter(|r| r.instrument == instrument) {
            if r.cycle == cycle || (!delta && r.cycle < cycle) {
                out.entry(r.series.clone()).or_default().push(r.value);
            }
        }
        out
    };
    let mut times = BTreeMap::new();
    let mut note = |name: &str, attrs: &[KeyValue], start: u64, time: u64| {
        assert!(
            start <= time,
            "{what}: {name}: start {start} after time {time}"
        );
        times.insert(
            (name.to_owned(), series_key(&attributes(attrs))),
            (start, time),
        );
    };
    for m in &sm.metrics {
        let w = format!("{what}: {}", m.name);
        let meta = (&*m.description, &*m.unit);
        match (&*m.name, m.data.as_ref().expect("data")) {
            (name @ ("pym.requests" | "pym.queue" | "pym.cpu_time"), MetricData::Sum(s)) => {
                let monotonic = name != "pym.queue";
                // Up-down counters stay cumulative under the "delta" preference.
                let is_delta = delta && monotonic;
                assert_eq!(s.is_monotonic, monotonic, "{w}");
                let temporality = if is_delta { DELTA } else { CUMULATIVE };
                assert_eq!(i64::from(s.aggregation_temporality), temporality, "{w}");
                let want_meta = match name {
                    "pym.requests" => ("requests served", "{request}"),
                    "pym.queue" => ("items queued", "{item}"),
                    _ => ("cpu time used", "s"),
                };
                assert_eq!(meta, want_meta, "{w}");
                let want: BTreeMap<String, f64> = if name == "pym.cpu_time" {
                    // Observations are totals: a delta point is the difference to the last one.
                    let now = window(name, true);
                    let before: BTreeMap<String, f64> = all
                        .iter()
                        .filter(|r| r.instrument == name && r.cycle + 1 == cycle)
                        .map(|r| (r.series.clone(), r.value))
                        .collect();
                    now.into_iter()
                        .map(|(k, v)| {
                            let prior = if is_delta {
                                before.get(&k).copied().unwrap_or(0.0)
                            } else {
                                0.0
                            };
                            (k, v[0] - prior)
                        })
                        .collect()
                } else {
                    window(name, is_delta)
                        .into_iter()
                        .map(|(k, v)| (k, v.iter().sum()))
                        .collect()
                };
                let got: BTreeMap<String, f64> = s
                    .data_points
                    .iter()
                    .map(|p| (series_key(&attributes(&p.attributes)), point_value(p)))
                    .collect();
                assert_eq!(got, want, "{w}");
                for p in &s.data_points {
                    let int = matches!(p.value, Some(NumberValue::AsInt(_)));
                    assert_eq!(int, name != "pym.cpu_time", "{w}: int or double");
                    note(
                        name,
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    );
                }
            }
            ("pym.temperature", MetricData::Gauge(g)) => {
                assert_eq!(meta, ("room temperature", "Cel"), "{w}");
                let want: BTreeMap<String, f64> = window("pym.temperature", true)
                    .into_iter()
                    .map(|(k, v)| (k, *v.last().expect("a value")))
                    .collect();
                let got: BTreeMap<String, f64> = g
                    .data_points
                    .iter()
                    .map(|p| (series_key(&attributes(&p.attributes)), point_value(p)))
                    .collect();
                assert_eq!(got, want, "{w}");
            }
            ("pym.latency", MetricData::Histogram(h)) => {
                assert_eq!(meta, ("request latency", "ms"), "{w}");
                let temporality = if delta { DELTA } else { CUMULATIVE };
                assert_eq!(i64::from(h.aggregation_temporality), temporality, "{w}");
                let want = window("pym.latency", delta);
                assert_eq!(h.data_points.len(), want.len(), "{w}");
                for p in &h.data_points {
                    let values = &want[&series_key(&attributes(&p.attributes))];
                    assert_eq!(p.explicit_bounds, LATENCY_BOUNDS, "{w}");
                    let mut counts = vec![0_u64; LATENCY_BOUNDS.len() + 1];
                    for v in values {
                        // Upper-inclusive: a value on a bound belongs to the bucket it ends.
                        counts[LATENCY_BOUNDS.iter().take_while(|b| v > b).count()] += 1;
                    }
                    assert_eq!(p.bucket_counts, counts, "{w}: buckets of {values:?}");
                    assert_eq!(p.count, values.len() as u64, "{w}");
                    assert_eq!(p.sum, Some(values.iter().sum()), "{w}");
                    assert_eq!(p.min, values.iter().copied().reduce(f64::min), "{w}");
                    assert_eq!(p.max, values.iter().copied().reduce(f64::max), "{w}");
                    note(
                        "pym.latency",
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    );
                }
            }
            ("pym.size", MetricData::ExponentialHistogram(h)) => {
                assert_eq!(meta, ("payload size", "By"), "{w}");
                let temporality = if delta { DELTA } else { CUMULATIVE };
                assert_eq!(i64::from(h.aggregation_temporality), temporality, "{w}");
                let want = window("pym.size", delta);
                assert_eq!(h.data_points.len(), want.len(), "{w}");
                for p in &h.data_points {
                    let values = &want[&series_key(&attributes(&p.attributes))];
                    let zeros = values.iter().filter(|v| **v == 0.0).count() as u64;
                    assert_eq!((p.count, p.zero_count), (values.len() as u64, zeros), "{w}");
                    assert_eq!(p.sum, Some(values.iter().sum()), "{w}");
                    assert_eq!(p.min, values.iter().copied().reduce(f64::min), "{w}");
                    assert_eq!(p.max, values.iter().copied().reduce(f64::max), "{w}");
                    let positive = p.positive.clone().unwrap_or_default();
                    let mut counts = vec![0_u64; positive.bucket_counts.len()];
                    for v in values.iter().filter(|v| **v > 0.0) {
                        let at = exponential_index(*v, p.scale) - positive.offset;
                        let at = usize::try_from(at).unwrap_or_else(|_| {
                            panic!(
                                "{w}: {v} maps below the offset {} at scale {}",
                                positive.offset, p.scale
                            )
                        });
                        assert!(
                            at < counts.len(),
                            "{w}: {v} maps past the buckets at scale {}",
                            p.scale
                        );
                        counts[at] += 1;
                    }
                    assert_eq!(
                        positive.bucket_counts, counts,
                        "{w}: scale {} offset {}",
                        p.scale, positive.offset
                    );
                    assert!(
                        p.negative
                            .as_ref()
                            .is_none_or(|n| n.bucket_counts.iter().all(|c| *c == 0)),
                        "{w}: negative buckets {:?}",
                        p.negative
                    );
                    note(
                        "pym.size",
                        &p.attributes,
                        p.start_time_unix_nano,
                        p.time_unix_nano,
                    );
                }
            }
            (name, data) => panic!("{what}: unexpected {name}: {data:?}"),
        }
    }
    times
}

async fn python_metrics_to_our_receiver(protocol: &str) {
    for temporality in ["cumulative", "delta"] {
        let what = format!("{protocol}/{temporality}");
        let (sent, got) = python_sends(protocol, temporality).await;
        let exports = sent["exports"].as_array().expect("exports");
        assert_eq!(
            (exports.len(), got.len()),
            (2, 2),
            "{what}: exports sent, requests decoded"
        );
        let all = recorded(&sent);
        let mut previous: Option<BTreeMap<(String, String), (u64, u64)>> = None;
        for (cycle, (sent, got)) in (1_u64..).zip(exports.iter().zip(&got)) {
            let what = format!("{what} cycle {cycle}");
            assert_decoded_as_sent(&what, sent, got);
            let times = check_values(&what, temporality == "delta", cycle, &all, got);
            if let Some(before) = previous.take() {
                for (key, (start, time)) in &times {
                    let Some((start0, time0)) = before.get(key) else {
                        continue;
                    };
                    assert!(
                        time > time0,
                        "{what}: {key:?}: time {time} not after {time0}"
                    );
                    // Delta points start where the previous interval ended; cumulative ones
                    // keep their start. The up-down counter stays cumulative either way.
                    if temporality == "delta" && key.0 != "pym.queue" {
                        assert_eq!(start, time0, "{what}: {key:?}: delta start");
                    } else {
                        assert_eq!(start, start0, "{what}: {key:?}: cumulative start");
                    }
                }
            }
            previous = Some(times);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_grpc_metric_exporter_to_our_receiver() {
    python_metrics_to_our_receiver("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_http_protobuf_metric_exporter_to_our_receiver() {
    python_metrics_to_our_receiver("http/protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_http_json_metric_exporter_to_our_receiver() {
    python_metrics_to_our_receiver("http/json").await;
}

/// The mapping function itself, at the values the workload records: exact powers of two sit
/// at the top of their bucket.
#[test]
fn exponential_mapping_matches_the_specification_at_powers_of_two() {
    assert_eq!(exponential_index(1.0, 0), -1);
    assert_eq!(exponential_index(2.0, 0), 0);
    assert_eq!(exponential_index(3.0, 0), 1);
    assert_eq!(exponential_index(4.0, 0), 1);
    assert_eq!(exponential_index(4.0, 1), 3);
    assert_eq!(exponential_index(5.0, 1), 4);
    assert_eq!(exponential_index(1000.0, -1), 4);
    assert_eq!(exponential_index(1024.0, -1), 4);
    assert_eq!(exponential_index(1025.0, -1), 5);
}
