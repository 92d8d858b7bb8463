//! [`BatchHeaders`]: the headers an OTAP batch may carry of its own (`BatchArrowRecords.headers`,
//! HPACK-encoded), read as the Go receiver reads them: one decoder per stream, whose dynamic
//! table (4,096 bytes at most) lives as long as the stream; a batch's headers take precedence
//! over the stream's, which fill in the rest; its `grpc-timeout` bounds the batch's handling.
//! An empty field means the stream's headers alone.

use crate::failure::Failure;
use http::{HeaderMap, HeaderName, HeaderValue};
use otlp_proto::grpc;
use std::time::Duration;

/// The dynamic table's size: the HPACK default, which the Go exporter's encoder keeps.
const TABLE_SIZE: usize = 4096;
/// What a batch's headers may decode to (names and values, as HTTP/2 counts a header list):
/// a few bytes of HPACK can name a table entry many times over.
pub(super) const MAX_HEADER_LIST: usize = 64 * 1024;

/// One stream's HPACK decoder.
pub(super) struct BatchHeaders {
    decoder: fluke_hpack::Decoder<'static>,
}

impl std::fmt::Debug for BatchHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchHeaders")
    }
}

/// A batch's headers and its own deadline.
#[derive(Debug)]
pub(super) struct Decoded {
    pub(super) headers: HeaderMap,
    pub(super) timeout: Option<Duration>,
}

impl BatchHeaders {
    pub(super) fn new() -> Self {
        let mut decoder = fluke_hpack::Decoder::new();
        decoder.set_max_allowed_table_size(TABLE_SIZE);
        BatchHeaders { decoder }
    }

    /// The headers of a batch whose `headers` field is `hpack` on a stream opened with
    /// `stream`. An error ends the stream: the decoder's table no longer matches the client's.
    pub(super) fn decode(&mut self, stream: &HeaderMap, hpack: &[u8]) -> Result<Decoded, Failure> {
        if hpack.is_empty() {
            return Ok(Decoded {
                headers: stream.clone(),
                timeout: None,
            });
        }
        let mut own: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut size = 0usize;
        let mut problem: Option<String> = None;
        // fluke-hpack panics on some malformed blocks (a size update whose integer is cut
        // short): a client's bytes must not take the stream's task down. The error ends the
        // stream, so the decoder is not used again after a panic.
        let decoder = &mut self.decoder;
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decoder.decode_with_cb(hpack, |name, value| {
                if problem.is_some() {
                    return;
                }
                // As HTTP/2 counts a header list: 32 bytes of overhead an entry.
                size = size.saturating_add(name.len() + value.len() + 32);
                if size > MAX_HEADER_LIST {
                    problem = Some(format!(
                        "the batch's headers decode to more than {MAX_HEADER_LIST} bytes"
                    ));
                    return;
                }
                // Pseudo-headers (`:path`, ...) belong to the stream.
                if name.first() == Some(&b':') {
                    return;
                }
                match (
                    HeaderName::from_bytes(&name),
                    HeaderValue::from_bytes(&value),
                ) {
                    (Ok(n), Ok(v)) => own.push((n, v)),
                    _ => {
                        problem = Some(format!(
                            "the batch's headers hold an invalid header {:?}",
                            String::from_utf8_lossy(&name)
                        ));
                    }
                }
            })
        }));
        let error = match decoded {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:?}")),
            Err(_) => Some("the decoder could not read them".to_owned()),
        };
        if let Some(e) = error {
            return Err(Failure::bad_request(format!(
                "the batch's headers are not valid HPACK ({e}); the stream ends"
            )));
        }
        if let Some(problem) = problem {
            return Err(Failure::bad_request(format!("{problem}; the stream ends")));
        }
        let mut headers = stream.clone();
        for (name, _) in &own {
            headers.remove(name);
        }
        let mut timeout = None;
        for (name, value) in own {
            if name == "grpc-timeout" {
                timeout = value.to_str().ok().and_then(grpc::parse_timeout);
            }
            headers.append(name, value);
        }
        Ok(Decoded { headers, timeout })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(encoder: &mut fluke_hpack::Encoder<'_>, headers: &[(&str, &str)]) -> Vec<u8> {
        encoder.encode(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    fn stream_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("stream"));
        h.insert("x-tenant", HeaderValue::from_static("a"));
        h
    }

    #[test]
    fn batch_headers_win_and_the_stream_fills_in() {
        let mut encoder = fluke_hpack::Encoder::new();
        let mut batches = BatchHeaders::new();
        let hpack = encode(
            &mut encoder,
            &[("authorization", "batch"), ("grpc-timeout", "250m")],
        );
        let d = batches.decode(&stream_headers(), &hpack).unwrap();
        assert_eq!(d.headers["authorization"], "batch");
        assert_eq!(d.headers["x-tenant"], "a");
        assert_eq!(d.timeout, Some(Duration::from_millis(250)));
        // The next batch's block refers to the dynamic table the first one filled.
        let again = encode(&mut encoder, &[("authorization", "batch")]);
        assert!(again.len() < hpack.len());
        let d = batches.decode(&stream_headers(), &again).unwrap();
        assert_eq!(d.headers["authorization"], "batch");
        assert_eq!(d.timeout, None);
        // No headers of its own: the stream's.
        let d = batches.decode(&stream_headers(), &[]).unwrap();
        assert_eq!(d.headers, stream_headers());
    }

    #[test]
    fn a_block_naming_a_big_entry_many_times_is_refused() {
        let mut encoder = fluke_hpack::Encoder::new();
        let big = "v".repeat(3000);
        let mut batches = BatchHeaders::new();
        let first = encode(&mut encoder, &[("x-big", &big)]);
        batches.decode(&HeaderMap::new(), &first).unwrap();
        // Each repeat is one byte naming the table entry: 40 bytes, 120 KB of headers.
        let repeats: Vec<(&str, &str)> = (0..40).map(|_| ("x-big", big.as_str())).collect();
        let block = encode(&mut encoder, &repeats);
        assert!(block.len() < 100, "{}", block.len());
        let err = batches.decode(&HeaderMap::new(), &block).unwrap_err();
        assert!(err.message.contains("more than"), "{}", err.message);
    }

    #[test]
    fn invalid_hpack_is_refused() {
        let mut batches = BatchHeaders::new();
        // An index past both tables.
        let err = batches
            .decode(&HeaderMap::new(), &[0xff, 0xff, 0x7f])
            .unwrap_err();
        assert!(err.message.contains("HPACK"), "{}", err.message);
        // A dynamic table size update whose integer is cut short (fluke-hpack panics on it).
        let err = BatchHeaders::new()
            .decode(&HeaderMap::new(), &[0x3f])
            .unwrap_err();
        assert!(err.message.contains("HPACK"), "{}", err.message);
    }

    proptest! {
        #[test]
        fn random_blocks_never_panic(block in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut batches = BatchHeaders::new();
            let _ = batches.decode(&HeaderMap::new(), &block);
        }
    }
}
