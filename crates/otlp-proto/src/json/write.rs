//! [`JsonWriter`]: OTLP/JSON output written straight into a byte buffer.

/// Writes OTLP/JSON text. Messages call [`JsonWriter::key`] before each field value; the writer
/// places the commas.
#[derive(Debug, Default)]
pub struct JsonWriter {
    out: Vec<u8>,
    need_comma: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each byte: 0 = copy as is, otherwise the escape letter (`u` means `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

impl JsonWriter {
    /// A writer with an empty buffer.
    pub fn new() -> Self {
        JsonWriter::default()
    }

    /// A writer that appends to `out` (reuse a buffer across requests).
    pub fn with_buffer(mut out: Vec<u8>) -> Self {
        out.clear();
        JsonWriter {
            out,
            need_comma: false,
        }
    }

    /// The text written.
    pub fn into_inner(self) -> Vec<u8> {
        self.out
    }

    /// `{`
    #[inline]
    pub fn begin_object(&mut self) {
        self.out.push(b'{');
        self.need_comma = false;
    }

    /// `}`
    #[inline]
    pub fn end_object(&mut self) {
        self.out.push(b'}');
        self.need_comma = true;
    }

    /// `[`
    #[inline]
    pub fn begin_array(&mut self) {
        self.out.push(b'[');
        self.need_comma = false;
    }

    /// `]`
    #[inline]
    pub fn end_array(&mut self) {
        self.out.push(b']');
        self.need_comma = true;
    }

    /// Starts an array element.
    #[inline]
    pub fn elem(&mut self) {
        if self.need_comma {
            self.out.push(b',');
        }
    }

    /// Writes a member key. `key` is pre-formatted as `,"name":` (see [`json_key!`](crate::json_key));
    /// the leading comma is dropped for the first member. One copy per key, no escaping.
    #[inline]
    pub fn key(&mut self, key: &str) {
        let skip = usize::from(!self.need_comma);
        append(&mut self.out, &key.as_bytes()[skip..]);
    }

    /// A JSON string, escaped.
    // Always: left to the inliner, whether it is inlined (and how fast OTLP/JSON encodes)
    // changed with unrelated edits elsewhere in the crate.
    #[inline(always)]
    pub fn string(&mut self, s: &str) {
        let bytes = s.as_bytes();
        // Most strings need no escaping; this check vectorises, the table walk below does not.
        if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
            self.out.reserve(bytes.len() + 2);
            self.out.push(b'"');
            append(&mut self.out, bytes);
            self.out.push(b'"');
            self.need_comma = true;
            return;
        }
        self.string_escaped(bytes);
    }

    #[inline(never)]
    fn string_escaped(&mut self, bytes: &[u8]) {
        self.out.reserve(bytes.len() + 8);
        self.out.push(b'"');
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc = ESCAPE[b as usize];
            if esc == 0 {
                continue;
            }
            self.out.extend_from_slice(&bytes[start..i]);
            start = i + 1;
            if esc == b'u' {
                self.out.extend_from_slice(b"\\u00");
                self.out.push(HEX[(b >> 4) as usize]);
                self.out.push(HEX[(b & 15) as usize]);
            } else {
                self.out.push(b'\\');
                self.out.push(esc);
            }
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
        self.need_comma = true;
    }

    /// A 32-bit integer as a JSON number.
    #[inline]
    pub fn int<I: itoa::Integer>(&mut self, v: I) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self.need_comma = true;
    }

    /// A 64-bit integer as a decimal string (JSON numbers lose precision past 2^53).
    #[inline]
    pub fn quoted_int<I: itoa::Integer>(&mut self, v: I) {
        self.out.push(b'"');
        self.int(v);
        self.out.push(b'"');
    }

    /// A double: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    #[inline]
    pub fn f64(&mut self, v: f64) {
        if v.is_finite() {
            self.out
                .extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
        } else if v.is_nan() {
            self.out.extend_from_slice(b"\"NaN\"");
        } else if v > 0.0 {
            self.out.extend_from_slice(b"\"Infinity\"");
        } else {
            self.out.extend_from_slice(b"\"-Infinity\"");
        }
        self.need_comma = true;
    }

    /// `true` or `false`.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.out
            .extend_from_slice(if v { b"true" as &[u8] } else { b"false" });
        self.need_comma = true;
    }

    /// Bytes as a lowercase hex string (trace and span ids).
    #[inline]
    pub fn hex(&mut self, v: &[u8]) {
        if v.len() <= 32 {
            // Ids are 8 or 16 bytes: format on the stack and copy once.
            let mut tmp = [b'"'; 66];
            for (i, &b) in v.iter().enumerate() {
                tmp[1 + 2 * i] = HEX[(b >> 4) as usize];
                tmp[2 + 2 * i] = HEX[(b & 15) as usize];
            }
            self.out.extend_from_slice(&tmp[..v.len() * 2 + 2]);
        } else {
            self.out.reserve(v.len() * 2 + 2);
            self.out.push(b'"');
            for &b in v {
                self.out.push(HEX[(b >> 4) as usize]);
                self.out.push(HEX[(b & 15) as usize]);
            }
            self.out.push(b'"');
        }
        self.need_comma = true;
    }

    /// Bytes as a standard, padded base64 string.
    pub fn base64(&mut self, v: &[u8]) {
        self.out.push(b'"');
        crate::base64::encode_to(&mut self.out, v, true);
        self.out.push(b'"');
        self.need_comma = true;
    }
}

/// `out.extend_from_slice(bytes)`, with the short slices most keys and values are appended
/// as two overlapping fixed-size moves instead of a call to `memcpy` (the idea of
/// `crate::encode::copy`, which writes into initialized bytes; this one writes into the
/// vector's spare capacity, so it need not be zeroed first). The three widths are spelled out:
/// a generic helper measured 10% slower on the codec benchmark.
#[inline(always)]
#[allow(unsafe_code)]
fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if !(4..=32).contains(&n) {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(n);
    let len = out.len();
    let src = bytes.as_ptr();
    // The widest move that fits: two of them cover `n` (overlapping when `n < 2 * w`).
    let w = if n >= 16 {
        16
    } else if n >= 8 {
        8
    } else {
        4
    };
    // SAFETY: `reserve` made room for `n` more bytes after `len`. Both moves read `w <= n`
    // bytes inside `bytes` (at 0 and at `n - w`) and write them inside the reserved room (at
    // `len` and `len + n - w`); a shared slice cannot alias the vector's spare capacity, which
    // is borrowed mutably here. Every byte of `len..len + n` is written before `set_len`.
    unsafe {
        let dst = out.as_mut_ptr().add(len);
        match w {
            16 => {
                let head = src.cast::<[u8; 16]>().read_unaligned();
                let tail = src.add(n - 16).cast::<[u8; 16]>().read_unaligned();
                dst.cast::<[u8; 16]>().write_unaligned(head);
                dst.add(n - 16).cast::<[u8; 16]>().write_unaligned(tail);
            }
            8 => {
                let head = src.cast::<[u8; 8]>().read_unaligned();
                let tail = src.add(n - 8).cast::<[u8; 8]>().read_unaligned();
                dst.cast::<[u8; 8]>().write_unaligned(head);
                dst.add(n - 8).cast::<[u8; 8]>().write_unaligned(tail);
            }
            _ => {
                let head = src.cast::<[u8; 4]>().read_unaligned();
                let tail = src.add(n - 4).cast::<[u8; 4]>().read_unaligned();
                dst.cast::<[u8; 4]>().write_unaligned(head);
                dst.add(n - 4).cast::<[u8; 4]>().write_unaligned(tail);
            }
        }
        out.set_len(len + n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_every_length_exactly() {
        let text: String = (0..80u8).map(|i| char::from(b'a' + i % 26)).collect();
        for n in 0..=80 {
            let mut w = JsonWriter::new();
            w.begin_array();
            for _ in 0..3 {
                w.elem();
                w.string(&text[..n]);
            }
            w.end_array();
            let s = &text[..n];
            assert_eq!(
                String::from_utf8(w.into_inner()).expect("utf-8"),
                format!("[\"{s}\",\"{s}\",\"{s}\"]"),
                "{n} bytes"
            );
            let mut out = vec![b'x'];
            append(&mut out, s.as_bytes());
            assert_eq!(&out[1..], s.as_bytes(), "{n} bytes");
            assert_eq!(out.len(), n + 1);
        }
    }

    #[test]
    fn escapes_control_characters_and_quotes() {
        let mut w = JsonWriter::new();
        w.string("a\"b\\c\nd\u{1}é");
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            r#""a\"b\\c\nd\u0001é""#
        );
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in crate::base64::tests::VECTORS {
            let mut w = JsonWriter::new();
            w.base64(input.as_bytes());
            assert_eq!(w.into_inner(), format!("\"{want}\"").into_bytes());
        }
    }

    #[test]
    fn non_finite_doubles_are_strings() {
        let mut w = JsonWriter::new();
        w.begin_array();
        w.elem();
        w.hex(&[0xab, 0x01]);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5] {
            w.elem();
            w.f64(v);
        }
        w.end_array();
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            r#"["ab01","NaN","Infinity","-Infinity",1.5]"#
        );
    }
}
