//! Damaged input: valid requests of every signal, encoded, then mutated (see
//! `support::mutate`), decode as every type in both encodings without a panic, within the time
//! bound, and stably; decode limits change only whether a request fits.

use super::*;

proptest! {
    #![proptest_config(config(384))]

    /// Damaged protobuf requests decode as every type, or fail, in bounded time; what decodes
    /// survives re-encoding; decode limits change only whether a request fits.
    #[test]
    fn mutated_protobuf_decodes_or_fails_cleanly(
        req in request(),
        edits in proptest::collection::vec(mutate::protobuf_mutation(), 1..6),
        limits in small_limits(),
    ) {
        let input = mutate::apply(&req.encode(Encoding::Protobuf), &edits);
        decode_everything(&input);
        check::limits_agree(&input, &limits);
    }

    /// Damaged OTLP/JSON requests decode as every type, or fail, in bounded time; what decodes
    /// survives re-encoding; decode limits change only whether a request fits.
    #[test]
    fn mutated_json_decodes_or_fails_cleanly(
        req in request(),
        edits in proptest::collection::vec(mutate::json_mutation(), 1..6),
        limits in small_limits(),
    ) {
        let input = mutate::apply(&req.encode(Encoding::Json), &edits);
        decode_everything(&input);
        check::limits_agree(&input, &limits);
    }

    /// Valid requests under limits around their own size (items, and decoded bytes as the
    /// unlimited decode counts them): whatever fits both decodes whole, anything over the item
    /// limit is refused. (Over the byte limit a request may still fit: under a limit, vectors
    /// grow only as far as it allows, so they take less than the unlimited decode reserved.)
    #[test]
    fn limits_refuse_what_exceeds_them(
        req in request(),
        json in any::<bool>(),
        items in limit_near(),
        bytes in limit_near(),
    ) {
        let encoding = if json { Encoding::Json } else { Encoding::Protobuf };
        let body = req.encode(encoding);
        let (_, spent) = otlp_proto::Request::decode_measured(
            req.signal(), encoding, &body, &otlp_proto::DecodeLimits::unlimited(),
        ).unwrap();
        let limits = otlp_proto::DecodeLimits::unlimited()
            .with_max_items(items.apply(req.item_count()))
            .with_max_decoded_bytes(bytes.apply(spent));
        check::limits_agree(&body, &limits);
        let decoded = otlp_proto::Request::decode_with(req.signal(), encoding, &body, &limits);
        if req.item_count() <= limits.max_items() && spent <= limits.max_decoded_bytes() {
            prop_assert!(decoded.is_ok(), "{:?}", decoded.err());
        }
        if req.item_count() > limits.max_items() {
            prop_assert!(decoded.is_err(), "{} items decoded within {:?}", req.item_count(), limits);
        }
    }
}

/// Decode limits small enough that generated requests often exceed them.
fn small_limits() -> impl Strategy<Value = otlp_proto::DecodeLimits> {
    (0usize..8, prop_oneof![0usize..4096, 4096usize..65536]).prop_map(|(items, bytes)| {
        otlp_proto::DecodeLimits::unlimited()
            .with_max_items(items)
            .with_max_decoded_bytes(bytes)
    })
}

/// A limit relative to what a request takes.
#[derive(Debug, Clone, Copy)]
enum Near {
    Exactly,
    OneLess,
    Half,
    OneMore,
    Unlimited,
}

impl Near {
    fn apply(self, n: usize) -> usize {
        match self {
            Near::Exactly => n,
            Near::OneLess => n.saturating_sub(1),
            Near::Half => n / 2,
            Near::OneMore => n + 1,
            Near::Unlimited => usize::MAX,
        }
    }
}

fn limit_near() -> impl Strategy<Value = Near> {
    prop::sample::select(vec![
        Near::Exactly,
        Near::OneLess,
        Near::Half,
        Near::OneMore,
        Near::Unlimited,
    ])
}

/// The outcome every decoder must have on an undamaged request: its own type decodes in its own
/// encoding (a check that the mutation tests start from valid input).
#[test]
fn unmutated_requests_decode_as_their_own_type() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..16 {
        let req = request().new_tree(&mut runner).unwrap().current();
        for (k, encoding) in [Encoding::Protobuf, Encoding::Json].into_iter().enumerate() {
            let outcomes = decode_everything(&req.encode(encoding));
            let own = 2 * req.signal().index() + k;
            assert_eq!(
                outcomes[own],
                "ok",
                "{} as {}",
                check::DECODERS[own],
                req.signal()
            );
        }
    }
}

proptest! {
    #![proptest_config(config(384))]

    /// Differential: damaged protobuf requests decode with our decoder as they do with prost's.
    #[test]
    fn mutated_protobuf_decodes_as_prost_does(
        req in request(),
        edits in proptest::collection::vec(mutate::protobuf_mutation(), 1..6),
    ) {
        use otlp_proto::collector::*;
        let input = Bytes::from(mutate::apply(&req.encode(Encoding::Protobuf), &edits));
        check::decodes_as_prost::<ExportTraceServiceRequest>(&input);
        check::decodes_as_prost::<ExportMetricsServiceRequest>(&input);
        check::decodes_as_prost::<ExportLogsServiceRequest>(&input);
        check::decodes_as_prost::<ExportProfilesServiceRequest>(&input);
    }

    /// Differential, on input that stays well-formed: requests with fields duplicated, removed,
    /// reordered, set to extreme values or repeated out of line decode with our decoder as they
    /// do with prost's (last value wins, messages merge), and decode stably as every type.
    #[test]
    fn edited_protobuf_decodes_as_prost_does(
        req in request(),
        edits in proptest::collection::vec(mutate::field_edit(), 1..6),
    ) {
        use otlp_proto::collector::*;
        let input = mutate::apply_field_edits(&req.encode(Encoding::Protobuf), &edits);
        decode_everything(&input);
        let input = Bytes::from(input);
        check::decodes_as_prost::<ExportTraceServiceRequest>(&input);
        check::decodes_as_prost::<ExportMetricsServiceRequest>(&input);
        check::decodes_as_prost::<ExportLogsServiceRequest>(&input);
        check::decodes_as_prost::<ExportProfilesServiceRequest>(&input);
    }
}
