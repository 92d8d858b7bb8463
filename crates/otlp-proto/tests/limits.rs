//! Decode limits bound the memory a hostile request can make the decoder take: counted with an
//! allocator that records the peak.

#![allow(clippy::unwrap_used)]

use otlp_proto::{DecodeErrorKind, DecodeLimits, Encoding, Request, Signal};
use test_support::alloc::peak_bytes_during;
use test_support::hostile::empty_spans_protobuf;

#[global_allocator]
static ALLOCATOR: test_support::alloc::Counting = test_support::alloc::Counting;

// One test in this binary, so no other thread allocates while the peak is measured.
#[test]
fn a_request_of_millions_of_empty_items_costs_no_more_than_the_limit() {
    let body = empty_spans_protobuf(2_000_000);
    let limit = 16 << 20;

    // Decodes `body` within `limits`; returns the error and the peak bytes allocated meanwhile.
    let refused = |limits: DecodeLimits| {
        let mut outcome = None;
        let peak = peak_bytes_during(|| {
            outcome = Some(Request::decode_with(
                Signal::Traces,
                Encoding::Protobuf,
                &body,
                &limits,
            ));
        });
        (outcome.unwrap().unwrap_err().kind(), peak)
    };
    let (err, peak) = refused(DecodeLimits::unlimited().with_max_decoded_bytes(limit));
    assert_eq!(err, DecodeErrorKind::TooLarge);
    assert!(
        peak <= limit + (1 << 20),
        "decoding took {peak} bytes at its peak"
    );

    // The item limit stops it too, before the memory is spent.
    let (err, peak) = refused(DecodeLimits::unlimited().with_max_items(1000));
    assert_eq!(err, DecodeErrorKind::TooManyItems);
    assert!(
        peak <= limit + (1 << 20),
        "decoding took {peak} bytes at its peak"
    );

    // Unlimited, the same request decodes (and costs what it costs).
    let request = Request::decode(Signal::Traces, Encoding::Protobuf, &body).unwrap();
    assert_eq!(request.item_count(), 2_000_000);
}
