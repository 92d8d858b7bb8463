//! `tests/corpus/`: inputs replayed on every run, with their recorded outcomes (see the README
//! there).

use super::*;
use otlp_proto::collector::*;
use std::path::PathBuf;
use support::fixtures;

const EXPECTED: &str = "expected.txt";
const README: &str = "README.md";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Every input file, by name, in name order.
fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .filter(|(name, _)| name != EXPECTED && name != README)
        .collect();
    out.sort();
    out
}

/// `name decoder=outcome ...`: one line of `expected.txt`.
fn line(name: &str, outcomes: &[String]) -> String {
    let mut s = name.to_owned();
    for (decoder, outcome) in check::DECODERS.iter().zip(outcomes) {
        s.push_str(&format!(" {decoder}={outcome}"));
    }
    s
}

/// Decodes every corpus file as every type (no panic, bounded time, stable re-encoding) and
/// compares the outcomes with `expected.txt`; `OTLP_CORPUS_BLESS=1` rewrites that file.
#[test]
fn corpus_replays_with_recorded_outcomes() {
    let got: Vec<(String, String)> = inputs()
        .into_iter()
        .map(|(name, bytes)| {
            let l = line(&name, &decode_everything(&bytes));
            let bytes = Bytes::from(bytes);
            check::decodes_as_prost::<ExportTraceServiceRequest>(&bytes);
            check::decodes_as_prost::<ExportMetricsServiceRequest>(&bytes);
            check::decodes_as_prost::<ExportLogsServiceRequest>(&bytes);
            check::decodes_as_prost::<ExportProfilesServiceRequest>(&bytes);
            (name, l)
        })
        .collect();
    assert!(got.len() >= 8, "the corpus is missing: {}", dir().display());
    let path = dir().join(EXPECTED);
    if std::env::var_os("OTLP_CORPUS_BLESS").is_some() {
        let mut text = String::from(
            "# Outcome of decoding each file of this directory as each type (see README.md).\n\
             # Written by `OTLP_CORPUS_BLESS=1 cargo test -p otlp-proto --test properties corpus`.\n",
        );
        for (_, l) in &got {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_default();
    let recorded: std::collections::BTreeMap<&str, &str> = recorded
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| (l.split(' ').next().unwrap_or(""), l))
        .collect();
    let mut problems = Vec::new();
    for (name, l) in &got {
        match recorded.get(name.as_str()) {
            None => problems.push(format!("{name}: no recorded outcome")),
            Some(want) if want != l => {
                problems.push(format!("{name}:\n  recorded {want}\n  now      {l}"))
            }
            Some(_) => {}
        }
    }
    for name in recorded.keys() {
        if !got.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name}: recorded but the file is gone"));
        }
    }
    assert!(
        problems.is_empty(),
        "corpus outcomes differ from {EXPECTED} (if intended, rerun with OTLP_CORPUS_BLESS=1):\n{}",
        problems.join("\n")
    );
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// A length-delimited field.
fn field(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::from(tag) << 3 | 2);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// A logs request whose one record has `body` (an encoded `AnyValue`) as its body.
fn logs_with_body(body: &[u8]) -> Vec<u8> {
    field(1, &field(2, &field(2, &field(5, body))))
}

/// An `AnyValue` holding arrays nested `depth` deep, the innermost array holding one value
/// with the fields `innermost`.
fn nested_arrays(depth: usize, innermost: &[u8]) -> Vec<u8> {
    let mut v = innermost.to_vec();
    for _ in 0..depth {
        v = field(5, &field(1, &v));
    }
    v
}

/// A logs request whose one record's body nests arrays `depth` deep, in OTLP/JSON, the
/// innermost array holding `innermost`.
fn json_nested_arrays(depth: usize, innermost: &str) -> Vec<u8> {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}{innermost}{}}}]}}]}}]}}"#,
        r#"{"arrayValue":{"values":["#.repeat(depth),
        "]}}".repeat(depth)
    )
    .into_bytes()
}

/// Hand-made inputs at the edges of both decoders.
fn edge_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut nan = vec![0x21];
    nan.extend(0x7ff8_0000_dead_beef_u64.to_le_bytes());
    let unpacked_sample = {
        // Sample.values (field 4, packed int64) sent unpacked, one varint per value.
        let mut s = vec![0x20, 0x05, 0x20, 0x7f];
        s.extend([
            0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ]);
        field(1, &field(2, &field(2, &field(2, &s))))
    };
    let group = {
        // An unknown field 9 as a group holding another group and a varint, then a span.
        let mut g = vec![0x4b, 0x53, 0x08, 0x01, 0x54, 0x4c];
        g.extend(field(1, &field(2, &field(2, &field(5, b"after-group")))));
        g
    };
    // Maps nested in maps, three messages a level (KeyValueList > KeyValue > AnyValue): 32
    // levels below the record's body are 100 messages, the most both decoders take; 33 are
    // too many. Minimized from `nesting_limits_agree`, which found the OTLP/JSON decoder
    // refusing at 32 (it counted arrays as levels) what the protobuf decoder accepted.
    let kvlists = |levels: usize| {
        let mut v = AnyValue::from("leaf");
        for _ in 0..levels {
            v = AnyValue::from(vec![otlp_proto::common::KeyValue::new("k", v)]);
        }
        super::logs_with_body(v)
    };
    let kvlist_twice = [
        field(6, &field(1, &field(1, b"a"))),
        field(6, &field(1, &field(1, b"b"))),
    ]
    .concat();
    let gauge_twice = {
        let gauge = |v: i64| otlp_proto::metrics::Metric {
            data: Some(otlp_proto::metrics::MetricData::Gauge(
                otlp_proto::metrics::Gauge {
                    data_points: vec![otlp_proto::metrics::NumberDataPoint {
                        value: Some(otlp_proto::metrics::NumberValue::AsInt(v)),
                        ..Default::default()
                    }],
                },
            )),
            ..Default::default()
        };
        let metric = [gauge(1).encode_to_bytes(), gauge(2).encode_to_bytes()].concat();
        field(1, &field(2, &field(2, &metric)))
    };
    let repeats: Vec<u8> = std::iter::repeat_n([0x0a, 0x00], 20_000)
        .flatten()
        .collect();
    let json = |s: &str| s.as_bytes().to_vec();
    vec![
        ("empty", Vec::new()),
        ("json-empty-object.json", json("{}")),
        ("json-null.json", json("null")),
        // 4 + 2 * 48 = 100 messages nested below the request: the most both decoders take.
        (
            "pb-nested-arrays-48.pb",
            logs_with_body(&nested_arrays(48, &[])),
        ),
        ("json-nested-arrays-48.json", json_nested_arrays(48, "{}")),
        // 4 + 2 * 48 + 1: one level too deep (an empty array in the innermost value).
        (
            "pb-nested-arrays-48-and-1.pb",
            logs_with_body(&nested_arrays(48, &[0x2a, 0])),
        ),
        (
            "json-nested-arrays-48-and-1.json",
            json_nested_arrays(48, r#"{"arrayValue":{}}"#),
        ),
        (
            "json-unknown-deep.json",
            json(&format!(
                r#"{{"x":{}{}}}"#,
                "[".repeat(150),
                "]".repeat(150)
            )),
        ),
        (
            "pb-nested-kvlists-32.pb",
            kvlists(32).encode_to_bytes().to_vec(),
        ),
        ("json-nested-kvlists-32.json", kvlists(32).to_json()),
        (
            "pb-nested-kvlists-33.pb",
            kvlists(33).encode_to_bytes().to_vec(),
        ),
        ("json-nested-kvlists-33.json", kvlists(33).to_json()),
        // A oneof's message member twice in a row: the two merge (minimized from
        // `edited_protobuf_decodes_as_prost_does`, which found the second replacing the first).
        ("pb-oneof-kvlist-twice.pb", logs_with_body(&kvlist_twice)),
        ("pb-oneof-gauge-twice.pb", gauge_twice),
        ("pb-group.pb", group),
        ("pb-group-unterminated.pb", vec![0x4b, 0x53, 0x08, 0x01]),
        (
            "pb-varint-11-bytes.pb",
            [vec![0x8a; 10], vec![0x01]].concat(),
        ),
        // An unknown varint field 15 whose ten-byte value has bits beyond the 64th: we keep the
        // low 64 bits (as C++ and Java do), prost refuses it.
        (
            "pb-varint-overflow.pb",
            [vec![0x78], vec![0xff; 9], vec![0x7f]].concat(),
        ),
        // An unknown field 15 at the top level, cut inside its fixed-width value.
        ("pb-unknown-fixed64-cut.pb", vec![0x79, 1, 2, 3]),
        ("pb-unknown-fixed32-cut.pb", vec![0x7d, 1, 2]),
        ("pb-unpacked-sample-values.pb", unpacked_sample),
        ("pb-nan-payload.pb", logs_with_body(&nan)),
        ("pb-20000-empty-resources.pb", repeats),
        (
            "pb-span-id-7-bytes.pb",
            field(
                1,
                &field(2, &field(2, &field(2, &[0x12, 7, 1, 2, 3, 4, 5, 6, 7]))),
            ),
        ),
        (
            "json-span-id-7-bytes.json",
            json(r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"01020304050607"}]}]}]}"#),
        ),
        (
            "json-escapes.json",
            json(
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a\"\\\/\b\f\n\r\t\u0000\u001f\u00e9\ud83d\ude00\uFFFF"},"severityText":"é😀"}]}]}]}"#,
            ),
        ),
        (
            "json-lone-surrogate.json",
            json(
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityText":"\ud800x"}]}]}]}"#,
            ),
        ),
        (
            "json-numbers.json",
            json(
                r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[
                {"asInt":"-9223372036854775808","timeUnixNano":18446744073709551615,"flags":1e2},
                {"asDouble":"NaN","startTimeUnixNano":"1.5e3"},{"asDouble":"-Infinity"},
                {"asDouble":-0.0,"exemplars":[{"asDouble":5e-324,"asInt":" 7 "}]}],
                "aggregationTemporality":2,"isMonotonic":true}}]}]}]}"#,
            ),
        ),
        (
            "json-int-out-of-range.json",
            json(
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"droppedAttributesCount":4294967296}]}]}]}"#,
            ),
        ),
        (
            "json-snake-case-and-unknown.json",
            json(
                r#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"0102030405060708090A0B0C0D0E0F10",
                "span_id":"0102030405060708","name":"n","unknown":{"a":[1,{"b":null}]},"status":null}]}]}]}"#,
            ),
        ),
        (
            "json-duplicate-keys.json",
            json(
                r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"a","intValue":"1"},
                "body":{"boolValue":true}}]}]},{"resource":{"attributes":[]},"resource":{"droppedAttributesCount":3}}]}"#,
            ),
        ),
    ]
}

/// Writes the seed files: hand-made edge cases, the realistic fixtures and generated requests
/// of every signal, in both encodings. Then run the corpus test with `OTLP_CORPUS_BLESS=1`.
#[test]
#[ignore = "rewrites tests/corpus/; run by hand"]
fn write_seeds() {
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir().join(name), bytes).unwrap();
    for (name, bytes) in edge_cases() {
        write(name, &bytes);
    }
    let fixtures: [(otlp_proto::Signal, Vec<u8>); 4] = {
        use prost::Message as _;
        [
            (
                otlp_proto::Signal::Traces,
                fixtures::trace_request(3).encode_to_vec(),
            ),
            (
                otlp_proto::Signal::Metrics,
                fixtures::metrics_request().encode_to_vec(),
            ),
            (
                otlp_proto::Signal::Logs,
                fixtures::logs_request().encode_to_vec(),
            ),
            (
                otlp_proto::Signal::Profiles,
                fixtures::profiles_request().encode_to_vec(),
            ),
        ]
    };
    for (signal, wire) in fixtures {
        let req =
            otlp_proto::Request::decode(signal, Encoding::Protobuf, &Bytes::from(wire)).unwrap();
        write(
            &format!("fixture-{signal}.pb"),
            &req.encode(Encoding::Protobuf),
        );
        write(&format!("fixture-{signal}.json"), &req.to_json());
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut count = [0usize; 4];
    while count.iter().any(|&c| c < 2) {
        let req = request().new_tree(&mut runner).unwrap().current();
        let signal = req.signal();
        let n = &mut count[signal.index()];
        if *n < 2 && req.item_count() >= 2 {
            write(
                &format!("seed-{signal}-{n}.pb"),
                &req.encode(Encoding::Protobuf),
            );
            write(&format!("seed-{signal}-{n}.json"), &req.to_json());
            *n += 1;
        }
    }
}
