//! Decode limits bound the memory a hostile request can make the decoder take: counted with an
//! allocator that records the peak.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use otlp_proto::{DecodeErrorKind, DecodeLimits, Encoding, Request, Signal};
use test_support::alloc::peak_bytes_during;

#[global_allocator]
static ALLOCATOR: test_support::alloc::Counting = test_support::alloc::Counting;

/// A protobuf traces request of `n` empty spans in one scope: two bytes of wire per span.
fn empty_spans(n: usize) -> Bytes {
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
    let spans = [0x12u8, 0x00].repeat(n);
    Bytes::from(field(1, &field(2, &spans)))
}

// One test in this binary, so no other thread allocates while the peak is measured.
#[test]
fn a_request_of_millions_of_empty_items_costs_no_more_than_the_limit() {
    let body = empty_spans(2_000_000);
    let limit = 16 << 20;

    let limits = DecodeLimits::unlimited().with_max_decoded_bytes(limit);
    let mut outcome = None;
    let peak = peak_bytes_during(|| {
        outcome = Some(Request::decode_with(
            Signal::Traces,
            Encoding::Protobuf,
            &body,
            &limits,
        ));
    });
    let err = outcome.take().unwrap().unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::TooLarge, "{err}");
    assert!(
        peak <= limit + (1 << 20),
        "decoding took {peak} bytes at its peak"
    );

    // The item limit stops it too, before the memory is spent.
    let limits = DecodeLimits::unlimited().with_max_items(1000);
    let peak = peak_bytes_during(|| {
        outcome = Some(Request::decode_with(
            Signal::Traces,
            Encoding::Protobuf,
            &body,
            &limits,
        ));
    });
    let err = outcome.take().unwrap().unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::TooManyItems, "{err}");
    assert!(
        peak <= limit + (1 << 20),
        "decoding took {peak} bytes at its peak"
    );

    // Unlimited, the same request decodes (and costs what it costs).
    let request = Request::decode(Signal::Traces, Encoding::Protobuf, &body).unwrap();
    assert_eq!(request.item_count(), 2_000_000);
}
