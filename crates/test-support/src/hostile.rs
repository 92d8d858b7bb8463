//! Requests built to hurt a receiver, shared by the tests that check it holds.

use bytes::Bytes;

/// A protobuf traces request of `n` empty spans in one scope: two bytes of wire per span, a whole
/// `Span` each once decoded (decode amplification).
pub fn empty_spans_protobuf(n: usize) -> Bytes {
    fn field(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![(tag << 3) | 2];
        let mut len = body.len();
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(body);
        out
    }
    Bytes::from(field(1, &field(2, &[0x12u8, 0x00].repeat(n))))
}

/// The same in OTLP/JSON: `{}` per span.
pub fn empty_spans_json(n: usize) -> Bytes {
    let mut spans = "{},".repeat(n);
    spans.pop();
    Bytes::from(format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#
    ))
}
