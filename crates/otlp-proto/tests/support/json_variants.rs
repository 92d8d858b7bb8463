//! Rewrites of our OTLP/JSON into the other forms the specification lets a receiver see: the
//! decoder must read each to the same value. A token-level rewriter that knows which keys hold
//! 64-bit integers, doubles, hex ids and base64 (OTLP/JSON keys mean the same wherever they are).

#![allow(dead_code)]

use proptest::prelude::*;

/// Which rewrites to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct Variant {
    /// Keys in proto (snake_case) spelling, as the specification lets receivers accept.
    pub snake_case: bool,
    /// 64-bit integers as JSON numbers instead of decimal strings.
    pub int64_as_numbers: bool,
    /// 32-bit integers and enums as decimal strings instead of numbers.
    pub int32_as_strings: bool,
    /// Doubles as strings holding the number.
    pub doubles_as_strings: bool,
    /// Trace, span and profile ids in upper-case hex.
    pub upper_case_ids: bool,
    /// `bytes` in the URL-safe base64 alphabet, without padding.
    pub url_safe_base64: bool,
    /// Every non-ASCII character as a `\u` escape (surrogate pairs beyond the BMP), `/` as `\/`,
    /// and the first letter of every key as a `\u` escape.
    pub escape_everything: bool,
    /// Whitespace around every token.
    pub whitespace: bool,
    /// An unknown member (holding nested values and `null`) first in every object.
    pub unknown_members: bool,
}

/// Any combination of rewrites.
pub fn variant() -> impl Strategy<Value = Variant> {
    prop::array::uniform9(any::<bool>()).prop_map(|b| Variant {
        snake_case: b[0],
        int64_as_numbers: b[1],
        int32_as_strings: b[2],
        doubles_as_strings: b[3],
        upper_case_ids: b[4],
        url_safe_base64: b[5],
        escape_everything: b[6],
        whitespace: b[7],
        unknown_members: b[8],
    })
}

/// Keys whose values (or array elements) are 64-bit integers, written as decimal strings.
const INT64_KEYS: &[&str] = &[
    "startTimeUnixNano",
    "endTimeUnixNano",
    "timeUnixNano",
    "observedTimeUnixNano",
    "intValue",
    "count",
    "zeroCount",
    "bucketCounts",
    "asInt",
    "durationNano",
    "period",
    "values",
    "timestampsUnixNano",
    "memoryStart",
    "memoryLimit",
    "fileOffset",
    "address",
    "line",
    "column",
    "startLine",
    "rejectedSpans",
    "rejectedDataPoints",
    "rejectedLogRecords",
    "rejectedProfiles",
    "seconds",
];

/// Keys whose values (or array elements) are doubles.
const DOUBLE_KEYS: &[&str] = &[
    "doubleValue",
    "asDouble",
    "sum",
    "min",
    "max",
    "explicitBounds",
    "quantile",
    "value",
    "zeroThreshold",
];

/// Keys whose values are hex ids.
const HEX_KEYS: &[&str] = &["traceId", "spanId", "parentSpanId", "profileId"];

/// Keys whose values are base64 (`value` only ever holds a base64 string in `google.protobuf.Any`).
const BASE64_KEYS: &[&str] = &["bytesValue", "originalPayload", "value"];

/// `text` (our own OTLP/JSON: no whitespace) rewritten as `v` says.
pub fn rewrite(text: &[u8], v: &Variant) -> Vec<u8> {
    let text = std::str::from_utf8(text).expect("our JSON is UTF-8");
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() * 2);
    // Per open container, the key its values belong to: an object's latest key, or for an array
    // the key of the member holding it.
    let mut keys: Vec<String> = Vec::new();
    let ws = |out: &mut String| {
        if v.whitespace {
            out.push_str(" \n\t ");
        }
    };
    let quoted = |out: &mut String, s: &str| {
        out.push('"');
        out.push_str(s);
        out.push('"');
    };
    let mut i = 0;
    while i < b.len() {
        let key = keys.last().map(String::as_str).unwrap_or("").to_owned();
        match b[i] {
            b'{' => {
                out.push('{');
                keys.push(String::new());
                ws(&mut out);
                if v.unknown_members {
                    out.push_str(r#""zz_unknown":{"a":[1,-2.5e3,null,true,"\u00e9"],"b":{}}"#);
                    if b.get(i + 1) != Some(&b'}') {
                        out.push(',');
                    }
                }
                i += 1;
            }
            b'[' => {
                out.push('[');
                keys.push(key);
                ws(&mut out);
                i += 1;
            }
            b'}' | b']' => {
                ws(&mut out);
                out.push(char::from(b[i]));
                keys.pop();
                i += 1;
            }
            b',' | b':' => {
                out.push(char::from(b[i]));
                ws(&mut out);
                i += 1;
            }
            b'"' => {
                let end = string_end(b, i);
                let raw = &text[i + 1..end];
                i = end + 1;
                if b.get(i) == Some(&b':') {
                    if let Some(k) = keys.last_mut() {
                        *k = raw.to_owned();
                    }
                    let mut key = if v.snake_case {
                        snake(raw)
                    } else {
                        raw.to_owned()
                    };
                    if v.escape_everything && !key.is_empty() {
                        // Keys are ASCII: escape the first letter (`\u0074raceId`).
                        let first = key.remove(0);
                        key.insert_str(0, &format!("\\u{:04x}", u32::from(first)));
                    }
                    quoted(&mut out, &key);
                    continue;
                }
                let digits = raw.strip_prefix('-').unwrap_or(raw);
                let is_int = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
                let key = key.as_str();
                if v.int64_as_numbers && INT64_KEYS.contains(&key) && is_int {
                    out.push_str(raw);
                } else if v.upper_case_ids && HEX_KEYS.contains(&key) {
                    quoted(&mut out, &raw.to_ascii_uppercase());
                } else if v.url_safe_base64 && BASE64_KEYS.contains(&key) {
                    quoted(
                        &mut out,
                        &raw.replace('+', "-").replace('/', "_").replace('=', ""),
                    );
                } else {
                    out.push('"');
                    escape_into(&mut out, raw, v.escape_everything);
                    out.push('"');
                }
            }
            _ => {
                // A number or a literal: up to the next structural character.
                let start = i;
                while i < b.len() && !matches!(b[i], b',' | b'}' | b']') {
                    i += 1;
                }
                let token = &text[start..i];
                let number = token.starts_with(|c: char| c == '-' || c.is_ascii_digit());
                let double = DOUBLE_KEYS.contains(&key.as_str());
                if number && ((double && v.doubles_as_strings) || (!double && v.int32_as_strings)) {
                    quoted(&mut out, token);
                } else {
                    out.push_str(token);
                }
            }
        }
    }
    out.into_bytes()
}

/// The index of the quote closing the string that opens at `start`.
fn string_end(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// `camelCase` as `camel_case`.
fn snake(key: &str) -> String {
    let mut s = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

/// The content of a JSON string (already escaped as JSON needs), with every non-ASCII
/// character and `/` escaped too when `all`.
fn escape_into(out: &mut String, raw: &str, all: bool) {
    if !all {
        out.push_str(raw);
        return;
    }
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // An escape our writer made: copy it whole.
                out.push('\\');
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            '/' => out.push_str("\\/"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
}
