//! What the property tests assert: round trips that tolerate NaN, and decoding untrusted bytes as
//! every message type under a time bound, with a watchdog for decoders that never return.

#![allow(dead_code)]

use crate::support::to_prost::ToProst;
use bytes::Bytes;
use otlp_proto::collector::*;
use otlp_proto::{DecodeError, Message};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long one decode of one input may take before the test fails. A hang guard, not a
/// performance assertion: inputs are kilobytes, decoding them takes microseconds in a release
/// build and milliseconds in a debug one, on a loaded machine.
pub const DECODE_BOUND: Duration = Duration::from_secs(2);

/// How long a decode may run before the watchdog gives up on it returning at all, prints the
/// input and aborts the process (a hung test would otherwise only time out in CI, with no input).
pub const HANG_LIMIT: Duration = Duration::from_secs(30);

/// `s` with every `-0.0` token written `0.0`: an implicit-presence double field holding -0.0 is
/// left out of both encodings, as prost does, so it decodes as 0.0 (and `-0.0 == 0.0`).
fn unsigned_zeros(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("-0.0") {
        let after = &rest[at + 4..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit() || c == 'e') {
            out.push_str("-0.0");
        } else {
            out.push_str("0.0");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The value's fields as text, NaN written `NaN` whatever its bits and -0.0 as 0.0.
pub fn fields_text<M: Message>(m: &M) -> String {
    unsigned_zeros(&format!("{m:?}"))
}

/// Whether `m` holds a NaN somewhere: then, and only then, it is not equal to itself.
#[allow(clippy::eq_op)]
pub fn holds_nan<M: PartialEq>(m: &M) -> bool {
    m != m
}

/// Whether `got` is `want` after a round trip. `==` decides unless `want` holds a NaN (then it
/// is not even equal to itself): NaN values must then match field by field as text and encode to
/// the same protobuf bytes (which carry every double's bits).
pub fn same<M: Message>(got: &M, want: &M) -> bool {
    if !holds_nan(want) {
        return got == want;
    }
    fields_text(got) == fields_text(want) && got.encode_to_bytes() == want.encode_to_bytes()
}

/// Panics unless [`same`], showing both values.
pub fn assert_same<M: Message>(got: &M, want: &M, what: &str) {
    assert!(same(got, want), "{what}:\n got: {got:?}\nwant: {want:?}");
}

/// `decode(encode(x)) == x` in protobuf, and the encoding is canonical (re-encoding the decoded
/// value gives the same bytes).
pub fn protobuf_round_trip<M: Message>(x: &M) {
    let wire = x.encode_to_bytes();
    let back = M::decode(&wire).unwrap_or_else(|e| panic!("our protobuf does not decode: {e}"));
    assert_same(&back, x, "protobuf round trip");
    assert_eq!(back.encode_to_bytes(), wire, "protobuf re-encoding differs");
}

/// `from_json(to_json(x)) == x`, the text is valid JSON (serde_json parses it), and re-encoding
/// the decoded value gives the same text.
pub fn json_round_trip<M: Message>(x: &M) {
    let json = Bytes::from(x.to_json());
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&json) {
        panic!(
            "our OTLP/JSON is not JSON ({e}): {}",
            String::from_utf8_lossy(&json)
        );
    }
    let back = M::from_json(&json).unwrap_or_else(|e| {
        panic!(
            "our OTLP/JSON does not decode: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_same(&back, x, "OTLP/JSON round trip");
    assert_eq!(
        String::from_utf8_lossy(&back.to_json()),
        String::from_utf8_lossy(&json),
        "OTLP/JSON re-encoding differs"
    );
}

/// Cutting a message's encodings short makes them fail to decode. In protobuf a cut where a
/// top-level field ends leaves a valid message of fewer fields; anywhere else (inside a key, a
/// varint, a fixed-width value or a length-delimited body) it must fail: a decoder that read past
/// the end of its input or kept a partial value would accept it. In OTLP/JSON every cut fails.
/// Tries the cuts next to every top-level field's ends and a few more spread over the input.
pub fn truncations_fail<M: Message>(x: &M) {
    let wire = x.encode_to_bytes();
    let boundaries = crate::support::mutate::field_boundaries(&wire).expect("our protobuf parses");
    let mut cuts: Vec<usize> = spread(wire.len(), 12);
    for &b in &boundaries {
        cuts.extend([b.saturating_sub(1), b, b + 1]);
    }
    cuts.retain(|&c| c < wire.len());
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        let decoded = M::decode(&wire.slice(..cut));
        let whole_fields = boundaries.contains(&cut);
        assert_eq!(
            decoded.is_ok(),
            whole_fields,
            "protobuf cut to {cut} of {} bytes ({}): {:?}",
            wire.len(),
            if whole_fields {
                "whole fields"
            } else {
                "inside a field"
            },
            decoded.err()
        );
    }
    let json = Bytes::from(x.to_json());
    for cut in spread(json.len(), 16) {
        assert!(
            M::from_json(&json.slice(..cut)).is_err(),
            "OTLP/JSON cut to {cut} of {} bytes decodes",
            json.len()
        );
    }
}

/// Up to `n` offsets in `0..len` spread evenly, and the last two.
fn spread(len: usize, n: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).map(|k| k * len / n).collect();
    v.extend([len.saturating_sub(2), len.saturating_sub(1)]);
    v.retain(|&c| c < len);
    v.dedup();
    v
}

/// Whether two requests are the same: equal, or (holding NaN) equal in protobuf, which carries
/// every double's bits.
pub fn same_request(a: &otlp_proto::Request, b: &otlp_proto::Request) -> bool {
    use otlp_proto::Encoding;
    a == b || (holds_nan(b) && a.encode(Encoding::Protobuf) == b.encode(Encoding::Protobuf))
}

/// The decoders under test, by name: each export request and response and `rpc::Status`, in
/// protobuf (`.pb`) and OTLP/JSON (`.json`).
pub const DECODERS: [&str; 18] = [
    "traces.pb",
    "traces.json",
    "metrics.pb",
    "metrics.json",
    "logs.pb",
    "logs.json",
    "profiles.pb",
    "profiles.json",
    "traces-response.pb",
    "traces-response.json",
    "metrics-response.pb",
    "metrics-response.json",
    "logs-response.pb",
    "logs-response.json",
    "profiles-response.pb",
    "profiles-response.json",
    "rpc-status.pb",
    "rpc-status.json",
];

/// Decodes `input` as every type of [`DECODERS`], in order, and returns each outcome: `ok` or
/// `err:<kind>`. Panics if a decoder panics or takes longer than [`DECODE_BOUND`], or if a value
/// that decoded does not survive re-encoding (in the same encoding exactly, in the other one up
/// to NaN bits, which OTLP/JSON does not carry).
pub fn decode_everything(input: &[u8]) -> Vec<String> {
    let body = Bytes::copy_from_slice(input);
    let watch = Watch::new(&body);
    let mut out = Vec::with_capacity(DECODERS.len());
    let mut names = DECODERS.iter();
    let mut next = || names.next().copied().unwrap_or("?");
    out.extend(both::<ExportTraceServiceRequest>(&watch, &body, &mut next));
    out.extend(both::<ExportMetricsServiceRequest>(
        &watch, &body, &mut next,
    ));
    out.extend(both::<ExportLogsServiceRequest>(&watch, &body, &mut next));
    out.extend(both::<ExportProfilesServiceRequest>(
        &watch, &body, &mut next,
    ));
    out.extend(both::<ExportTraceServiceResponse>(&watch, &body, &mut next));
    out.extend(both::<ExportMetricsServiceResponse>(
        &watch, &body, &mut next,
    ));
    out.extend(both::<ExportLogsServiceResponse>(&watch, &body, &mut next));
    out.extend(both::<ExportProfilesServiceResponse>(
        &watch, &body, &mut next,
    ));
    out.extend(both::<otlp_proto::rpc::Status>(&watch, &body, &mut next));
    out
}

fn both<M: Message>(
    watch: &Watch,
    body: &Bytes,
    next: &mut impl FnMut() -> &'static str,
) -> [String; 2] {
    let pb = next();
    let pb = outcome(watch.time(pb, || M::decode(body)).map(|m| stable(&m, true)));
    let json = next();
    let json = outcome(
        watch
            .time(json, || M::from_json(body))
            .map(|m| stable(&m, false)),
    );
    [pb, json]
}

fn outcome(r: Result<(), DecodeError>) -> String {
    match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("err:{:?}", e.kind()),
    }
}

/// A decoded value re-encodes and decodes to itself, in either encoding.
fn stable<M: Message>(m: &M, from_protobuf: bool) {
    let pb = m.encode_to_bytes();
    let json = Bytes::from(m.to_json());
    let via_pb = M::decode(&pb).unwrap_or_else(|e| panic!("re-encoded protobuf fails: {e}"));
    let via_json = M::from_json(&json).unwrap_or_else(|e| {
        panic!(
            "re-encoded OTLP/JSON fails: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    if from_protobuf {
        assert_same(&via_pb, m, "protobuf -> value -> protobuf");
        // OTLP/JSON writes every NaN as "NaN": compare up to NaN bits.
        assert_eq!(
            fields_text(&via_json),
            fields_text(m),
            "protobuf -> OTLP/JSON"
        );
    } else {
        assert_same(&via_json, m, "OTLP/JSON -> value -> OTLP/JSON");
        assert_same(&via_pb, m, "OTLP/JSON -> protobuf");
    }
}

/// The input being decoded, shared with the watchdog thread.
#[derive(Debug)]
struct Running {
    input: Bytes,
    decoder: &'static str,
    since: Instant,
}

type Slots = Mutex<Vec<Option<Arc<Mutex<Running>>>>>;

fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        std::thread::spawn(watchdog);
        Mutex::new(Vec::new())
    })
}

/// Every second, looks for a decode running longer than [`HANG_LIMIT`]; writes its input to a
/// file, names it on stderr and aborts the process.
fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Ok(slots) = slots().lock() else { return };
        for slot in slots.iter().flatten() {
            let Ok(r) = slot.lock() else { continue };
            if r.since.elapsed() > HANG_LIMIT {
                let path =
                    std::env::temp_dir().join(format!("otlp-hang-{}.bin", std::process::id()));
                let _ = std::fs::write(&path, &r.input);
                let mut hex = String::new();
                for b in r.input.iter() {
                    let _ = write!(hex, "{b:02x}");
                }
                // Straight to stderr: the test harness captures `eprintln!`, and would lose it.
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "decoder {} ran over {HANG_LIMIT:?} on this input (written to {}): {hex}",
                    r.decoder,
                    path.display()
                );
                std::process::abort();
            }
        }
    }
}

/// One caller's registration with the watchdog; times each decode.
struct Watch {
    slot: usize,
    running: Arc<Mutex<Running>>,
}

impl Watch {
    fn new(input: &Bytes) -> Self {
        let running = Arc::new(Mutex::new(Running {
            input: input.clone(),
            decoder: "",
            since: Instant::now(),
        }));
        let mut slots = slots().lock().unwrap_or_else(|e| e.into_inner());
        let slot = match slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                slots.push(None);
                slots.len() - 1
            }
        };
        slots[slot] = Some(running.clone());
        Watch { slot, running }
    }

    /// Runs one decode under the watchdog; panics if it took longer than [`DECODE_BOUND`].
    fn time<T>(&self, decoder: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        if let Ok(mut r) = self.running.lock() {
            r.decoder = decoder;
            r.since = start;
        }
        let out = f();
        let took = start.elapsed();
        if let Ok(mut r) = self.running.lock() {
            // Idle until the next decode starts.
            r.since = Instant::now() + Duration::from_secs(3600);
        }
        assert!(
            took <= DECODE_BOUND,
            "decoding as {decoder} took {took:?} (bound {DECODE_BOUND:?})"
        );
        out
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut slots = slots().lock().unwrap_or_else(|e| e.into_inner());
        slots[self.slot] = None;
    }
}

/// Decodes `input` as every request type in both encodings under `limits`: no panic, within
/// [`DECODE_BOUND`], and the outcome agrees with the unlimited decode. What decodes within the
/// limits is what decodes without them and respects them; what fails does so with the limit it
/// exceeded (by the unlimited decode's own count), or as the unlimited decode fails; what stays
/// within both limits decodes, counting the same bytes.
pub fn limits_agree(input: &[u8], limits: &otlp_proto::DecodeLimits) {
    use otlp_proto::{DecodeErrorKind as K, DecodeLimits, Encoding, Request, Signal};
    let body = Bytes::copy_from_slice(input);
    let watch = Watch::new(&body);
    for signal in Signal::ALL {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let unlimited =
                Request::decode_measured(signal, encoding, &body, &DecodeLimits::unlimited());
            let limited = watch.time("limited", || {
                Request::decode_measured(signal, encoding, &body, limits)
            });
            let what = format!("{signal} {encoding:?} within {limits:?}");
            match (&unlimited, &limited) {
                (Ok((full, spent)), Ok((r, r_spent))) => {
                    // Both decoded from the same bytes: equal, or (NaN) equal in encoding.
                    assert!(
                        r == full
                            || r.encode(Encoding::Protobuf) == full.encode(Encoding::Protobuf),
                        "{what}: decodes differently"
                    );
                    assert!(r.item_count() <= limits.max_items(), "{what}");
                    assert!(*r_spent <= limits.max_decoded_bytes(), "{what}: {r_spent}");
                    if *spent <= limits.max_decoded_bytes() {
                        assert_eq!(r_spent, spent, "{what}: counted differently");
                    }
                }
                (Ok((full, spent)), Err(e)) => match e.kind() {
                    K::TooManyItems => assert!(full.item_count() > limits.max_items(), "{what}"),
                    K::TooLarge => assert!(*spent > limits.max_decoded_bytes(), "{what}: {spent}"),
                    other => panic!("{what}: {other:?}, which the unlimited decode did not hit"),
                },
                (Err(_), Ok(_)) => panic!("{what}: decodes only within limits"),
                (Err(a), Err(b)) => assert!(
                    a.kind() == b.kind() || matches!(b.kind(), K::TooManyItems | K::TooLarge),
                    "{what}: {a} unlimited, {b} limited"
                ),
            }
        }
    }
}

/// Decodes `input` with our decoder and with prost's, as `M`: both succeed with the same value,
/// or both fail, or ours fails where it is stricter on purpose (ids of the wrong length).
pub fn decodes_as_prost<M>(input: &Bytes)
where
    M: Message + ToProst,
    M::P: prost::Message + Default + PartialEq + std::fmt::Debug,
{
    use otlp_proto::DecodeErrorKind as K;
    let ours = M::decode(input);
    let theirs = <M::P as prost::Message>::decode(input.clone());
    match (&ours, &theirs) {
        (Ok(o), Ok(p)) => {
            let converted = o.to_prost();
            assert!(
                converted == *p
                    || (holds_nan(o)
                        && o.encode_to_bytes()[..] == prost::Message::encode_to_vec(p)[..]),
                "ours and prost's differ:\n ours: {o:?}\nprost: {p:?}"
            );
        }
        (Err(e), Ok(_)) if e.kind() == K::BadId => {}
        (Err(e), Ok(p)) => panic!("we refuse ({e}) what prost reads: {p:?}"),
        // A ten-byte varint whose last byte holds more than the 64th bit: prost (and Go) refuse
        // it, we keep the low 64 bits, as the C++ and Java parsers do.
        (Ok(_), Err(e))
            if e.to_string().contains("invalid varint") && overflowing_varint(input) => {}
        (Ok(o), Err(e)) => panic!("prost refuses ({e}) what we read: {o:?}"),
        (Err(_), Err(_)) => {}
    }
}

/// Whether `input` holds a ten-byte varint with bits beyond the 64th (nine continuation bytes,
/// then a last byte above 1), anywhere.
fn overflowing_varint(input: &[u8]) -> bool {
    input
        .windows(10)
        .any(|w| w[..9].iter().all(|&b| b >= 0x80) && (2..0x80).contains(&w[9]))
}
