//! Base64 as OTLP needs it: OTLP/JSON `bytes` fields (standard alphabet, padded) and gRPC binary
//! metadata such as `grpc-status-details-bin` (sent unpadded). Decoding accepts both alphabets,
//! with or without padding, as the protobuf JSON mapping and gRPC require of readers.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard-alphabet encoding of `input` to `out`, padded with `=` when `pad`.
pub fn encode_to(out: &mut Vec<u8>, input: &[u8], pad: bool) {
    out.reserve(input.len().div_ceil(3) * 4);
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[((n >> shift) & 63) as usize]);
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let n = rest
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        let digits = rest.len() + 1;
        for shift in [18, 12, 6].into_iter().take(digits) {
            out.push(ALPHABET[((n >> shift) & 63) as usize]);
        }
        if pad {
            out.extend(std::iter::repeat_n(b'=', 4 - digits));
        }
    }
}

/// The unpadded standard encoding of `input`, as gRPC binary metadata carries it.
pub fn encode_unpadded(input: &[u8]) -> String {
    let mut out = Vec::new();
    encode_to(&mut out, input, false);
    // Only ASCII was written.
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes standard or URL-safe base64, padded or not, ignoring surrounding whitespace.
/// `None` for any other character or an impossible length.
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let input = input.trim_ascii();
    let digits = input
        .strip_suffix(b"==")
        .or_else(|| input.strip_suffix(b"="))
        .unwrap_or(input);
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in digits {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(v)) & 0xFFFF;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The test vectors of RFC 4648, section 10: `(input, padded base64)`.
    pub(crate) const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip_padded_and_unpadded() {
        for (plain, encoded) in VECTORS {
            let mut out = Vec::new();
            encode_to(&mut out, plain.as_bytes(), true);
            assert_eq!(out, encoded.as_bytes());
            let unpadded = encode_unpadded(plain.as_bytes());
            assert_eq!(unpadded, encoded.trim_end_matches('='));
            assert_eq!(decode(encoded.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(decode(unpadded.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn url_safe_alphabet_and_errors() {
        assert_eq!(decode(b"-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode(b"+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode(b"a*b"), None);
        assert_eq!(decode(b"abcde"), None);
    }
}
