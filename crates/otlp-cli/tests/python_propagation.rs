//! Context propagation against the real OpenTelemetry Python propagators
//! (`interop/python/propagate.py`: the composite of `TraceContextTextMapPropagator` and
//! `W3CBaggagePropagator`):
//!
//! - Python injects, our `tracecontext,baggage` propagator extracts the same ids, flags, remote
//!   flag, trace state and baggage;
//! - we inject (sampled and not), Python extracts the same;
//! - malformed `traceparent` headers are rejected by both sides alike.
//!
//! The peer is installed by `interop/python/setup.sh` (cached under `target/peers`). If it
//! fails, the tests fail with its output: they never skip silently.

use otlp::trace::propagation::{
    Baggage, CompositePropagator, Context, TextMapPropagator, propagators_from_env,
};
use otlp::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use test_support::{command, python_peers, repo_root};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const SPAN_ID: &str = "b7ad6b7169203331";
const TRACE_STATE: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";

/// The interpreter of the SDK virtualenv.
fn python() -> &'static Path {
    &python_peers().sdk
}

/// Runs `propagate.py MODE` with `input` on stdin (bounded to a minute) and returns its JSON
/// answer. Panics, with its stderr, if it fails.
fn propagate(mode: &str, input: &Json) -> Json {
    let mut child = command(python())
        .arg(repo_root().join("interop/python/propagate.py"))
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start propagate.py {mode}: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(input.to_string().as_bytes())
            .expect("write propagate.py stdin");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("propagate.py {mode} did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    assert!(
        status.success(),
        "propagate.py {mode} failed ({status}) on {input}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("propagate.py {mode}: stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}")
    })
}

/// Our propagator, as `OTEL_PROPAGATORS=tracecontext,baggage` makes it (the same composite as
/// the Python side).
fn ours() -> CompositePropagator {
    propagators_from_env(|name| {
        (name == "OTEL_PROPAGATORS").then(|| "tracecontext,baggage".to_owned())
    })
    .expect("tracecontext,baggage")
}

/// A JSON object of strings as a carrier.
fn carrier(headers: &Json) -> HashMap<String, String> {
    headers
        .as_object()
        .unwrap_or_else(|| panic!("headers are not an object: {headers}"))
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap_or_else(|| panic!("header {k}: {v}"));
            (k.clone(), v.to_owned())
        })
        .collect()
}

/// What we extracted, in the shape `propagate.py extract` prints.
fn describe(cx: &Context) -> Json {
    let baggage: serde_json::Map<String, Json> = cx
        .baggage
        .iter()
        .map(|(k, v)| (k.to_owned(), Json::from(v)))
        .collect();
    let span = &cx.span;
    if !span.is_valid() {
        return json!({"valid": false, "baggage": baggage});
    }
    json!({
        "valid": true,
        "trace_id": span.trace_id().to_string(),
        "span_id": span.span_id().to_string(),
        "trace_flags": span.trace_flags().bits(),
        "sampled": span.is_sampled(),
        "is_remote": span.is_remote(),
        "trace_state": span.trace_state().as_str(),
        "baggage": baggage,
    })
}

/// Baggage values that need percent-encoding and that both sides encode and decode the same
/// way (see `spaces_and_plus_signs_in_baggage` for the two characters that are not).
fn tricky_baggage() -> Vec<(&'static str, &'static str)> {
    vec![
        ("user.id", "42"),
        ("list", "a,b;c"),
        ("query", "k=v&x=%41"),
        ("name", "Zoë/Ünïcode→日本"),
        ("quote", "\"quoted\"\\"),
    ]
}

fn context(sampled: bool, trace_state: &str, baggage: &[(&str, &str)]) -> Context {
    let mut bag = Baggage::new();
    for (k, v) in baggage {
        assert!(bag.insert(*k, *v), "insert {k}={v}");
    }
    let span = SpanContext::new(
        TRACE_ID.parse::<TraceId>().expect("trace id"),
        SPAN_ID.parse::<SpanId>().expect("span id"),
        TraceFlags::NONE.with_sampled(sampled),
        false,
        TraceState::parse(trace_state),
    );
    Context::new(span, bag)
}

fn baggage_json(baggage: &[(&str, &str)]) -> Json {
    Json::Object(
        baggage
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Json::from(*v)))
            .collect(),
    )
}

#[test]
fn python_injects_we_extract() {
    let baggage = tricky_baggage();
    let specs: Vec<Json> = [true, false]
        .into_iter()
        .map(|sampled| {
            json!({
                "trace_id": TRACE_ID,
                "span_id": SPAN_ID,
                "sampled": sampled,
                "trace_state": TRACE_STATE,
                "baggage": baggage_json(&baggage),
            })
        })
        .collect();
    let injected = propagate("inject", &Json::Array(specs));
    let injected = injected.as_array().expect("an array of header sets");
    assert_eq!(injected.len(), 2, "{injected:?}");
    for (headers, sampled) in injected.iter().zip([true, false]) {
        let flags = if sampled { "01" } else { "00" };
        assert_eq!(
            headers["traceparent"],
            format!("00-{TRACE_ID}-{SPAN_ID}-{flags}"),
            "{headers}"
        );
        assert_eq!(headers["tracestate"], TRACE_STATE, "{headers}");
        // Something was percent-encoded: the header is ASCII and holds no raw separators.
        let header = headers["baggage"].as_str().expect("baggage header");
        assert!(header.is_ascii() && header.contains('%'), "{header}");

        let cx = ours().extract(&carrier(headers));
        assert!(cx.span.is_valid(), "{headers} -> {cx:?}");
        assert_eq!(cx.span.trace_id().to_string(), TRACE_ID);
        assert_eq!(cx.span.span_id().to_string(), SPAN_ID);
        assert_eq!(cx.span.is_sampled(), sampled);
        assert_eq!(cx.span.trace_flags().bits(), u8::from(sampled));
        assert!(cx.span.is_remote());
        assert_eq!(cx.span.trace_state().as_str(), TRACE_STATE);
        assert_eq!(
            cx.span.trace_state().entries().collect::<Vec<_>>(),
            [("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE")]
        );
        let mut got: Vec<(&str, &str)> = cx.baggage.iter().collect();
        let mut want = baggage.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "baggage header {header:?}");
        // And Python reads its own headers as we do.
        assert_eq!(propagate("extract", headers), describe(&cx), "{headers}");
    }
}

#[test]
fn we_inject_python_extracts() {
    // Spaces are fine in this direction: we write them as %20. (Python strips blanks around a
    // decoded value, so none at the ends.)
    let mut baggage = tricky_baggage();
    baggage.push(("note", "hello,  world = yes;"));
    let mut carriers = Vec::new();
    let mut contexts = Vec::new();
    for sampled in [true, false] {
        let cx = context(sampled, TRACE_STATE, &baggage);
        let mut headers: HashMap<String, String> = HashMap::new();
        ours().inject(&cx, &mut headers);
        let flags = if sampled { "01" } else { "00" };
        assert_eq!(
            headers.get("traceparent").map(String::as_str),
            Some(format!("00-{TRACE_ID}-{SPAN_ID}-{flags}").as_str())
        );
        assert_eq!(
            headers.get("tracestate").map(String::as_str),
            Some(TRACE_STATE)
        );
        carriers.push(json!(headers));
        contexts.push(cx);
    }
    let extracted = propagate("extract", &Json::Array(carriers.clone()));
    let extracted = extracted.as_array().expect("an array of contexts");
    assert_eq!(extracted.len(), 2, "{extracted:?}");
    for ((python, cx), headers) in extracted.iter().zip(&contexts).zip(&carriers) {
        let sampled = cx.span.is_sampled();
        let want = json!({
            "valid": true,
            "trace_id": TRACE_ID,
            "span_id": SPAN_ID,
            "trace_flags": u8::from(sampled),
            "sampled": sampled,
            "is_remote": true,
            "trace_state": TRACE_STATE,
            "baggage": baggage_json(&baggage),
        });
        assert_eq!(python, &want, "Python extracted from our {headers}");
        // Our own extraction of the same headers agrees.
        assert_eq!(describe(&ours().extract(&carrier(headers))), want);
    }
}

/// Python's `W3CBaggagePropagator` uses `quote_plus` / `unquote_plus`: it writes a space as `+`
/// and reads `+` as a space. In W3C Baggage `+` is a plain `baggage-octet`, so we read Python's
/// `a+b` as `a+b`, and Python reads our (unencoded) `+` as a space. This test pins the
/// divergence down so that a change on either side shows up.
#[test]
fn spaces_and_plus_signs_in_baggage() {
    let spec = json!({
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "sampled": true,
        "baggage": {"space": "a b", "plus": "1+1"},
    });
    let headers = propagate("inject", &spec);
    let mut members: Vec<&str> = headers["baggage"]
        .as_str()
        .expect("baggage header")
        .split(',')
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["plus=1%2B1", "space=a+b"],
        "Python's baggage encoding"
    );
    let cx = ours().extract(&carrier(&headers));
    assert_eq!(cx.baggage.get("space"), Some("a+b"), "{cx:?}");
    assert_eq!(cx.baggage.get("plus"), Some("1+1"), "{cx:?}");

    let cx = context(true, "", &[("space", "a b"), ("plus", "1+1")]);
    let mut headers: HashMap<String, String> = HashMap::new();
    ours().inject(&cx, &mut headers);
    assert_eq!(
        headers.get("baggage").map(String::as_str),
        Some("space=a%20b,plus=1+1")
    );
    let python = propagate("extract", &json!(headers));
    assert_eq!(python["baggage"], json!({"space": "a b", "plus": "1 1"}));
}

#[test]
fn malformed_traceparents_are_rejected_alike() {
    let valid = format!("00-{TRACE_ID}-{SPAN_ID}-01");
    let upper_trace = format!("00-{}-{SPAN_ID}-01", TRACE_ID.to_uppercase());
    let upper_span = format!("00-{TRACE_ID}-{}-01", SPAN_ID.to_uppercase());
    let invalid = [
        format!("ff-{TRACE_ID}-{SPAN_ID}-01"),
        format!("00-{}-{SPAN_ID}-01", "0".repeat(32)),
        format!("00-{TRACE_ID}-{}-01", "0".repeat(16)),
        format!("00-{}-{SPAN_ID}-01", &TRACE_ID[1..]),
        format!("00-{TRACE_ID}0-{SPAN_ID}-01"),
        format!("00-{TRACE_ID}-{}-01", &SPAN_ID[1..]),
        format!("00-{TRACE_ID}-{SPAN_ID}0-01"),
        format!("00-{TRACE_ID}-{SPAN_ID}-1"),
        format!("00-{TRACE_ID}-{SPAN_ID}-001"),
        format!("0-{TRACE_ID}-{SPAN_ID}-01"),
        format!("000-{TRACE_ID}-{SPAN_ID}-01"),
        format!("00-{TRACE_ID}-{SPAN_ID}-01-extra"),
        format!("0G-{TRACE_ID}-{SPAN_ID}-01"),
        format!("00-{TRACE_ID}-{SPAN_ID}-0x"),
        format!("00_{TRACE_ID}_{SPAN_ID}_01"),
        upper_trace,
        upper_span,
        format!("00-{TRACE_ID}-{SPAN_ID}-0A"),
        String::new(),
    ];
    // Every carrier also has trace state and baggage: the baggage is read either way, the
    // trace state only with a valid traceparent.
    let carriers: Vec<HashMap<String, String>> = invalid
        .iter()
        .chain(std::iter::once(&valid))
        .map(|traceparent| {
            [
                ("traceparent", traceparent.as_str()),
                ("tracestate", TRACE_STATE),
                ("baggage", "k=v"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        })
        .collect();
    let python = propagate("extract", &json!(carriers));
    let python = python.as_array().expect("an array of contexts");
    assert_eq!(python.len(), carriers.len());
    for (i, (python, headers)) in python.iter().zip(&carriers).enumerate() {
        let ours = describe(&ours().extract(headers));
        assert_eq!(&ours, python, "traceparent {:?}", headers["traceparent"]);
        let want_valid = i == invalid.len();
        assert_eq!(
            ours["valid"], want_valid,
            "traceparent {:?}: {ours}",
            headers["traceparent"]
        );
        assert_eq!(ours["baggage"], json!({"k": "v"}));
    }
}

#[test]
fn future_versions_and_flags_are_read_alike() {
    // Accepted by both: a later version may carry more fields, and unknown flag bits are kept.
    let headers = [
        format!("01-{TRACE_ID}-{SPAN_ID}-01"),
        format!("cc-{TRACE_ID}-{SPAN_ID}-01-what-the-future-holds"),
        format!("00-{TRACE_ID}-{SPAN_ID}-03"),
        format!("00-{TRACE_ID}-{SPAN_ID}-fe"),
        format!("00-{TRACE_ID}-{SPAN_ID}-01 "),
    ];
    let carriers: Vec<HashMap<String, String>> = headers
        .iter()
        .map(|h| [("traceparent".to_owned(), h.clone())].into())
        .collect();
    let python = propagate("extract", &json!(carriers));
    let python = python.as_array().expect("an array of contexts");
    assert_eq!(python.len(), carriers.len());
    for (python, headers) in python.iter().zip(&carriers) {
        let ours = describe(&CompositePropagator::w3c().extract(headers));
        assert_eq!(&ours, python, "traceparent {:?}", headers["traceparent"]);
        assert_eq!(ours["valid"], true, "{ours}");
    }
}
