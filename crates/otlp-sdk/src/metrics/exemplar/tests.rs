use super::*;
use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState, Tracer};

fn int(v: i64) -> ExemplarValue {
    ExemplarValue::AsInt(v)
}

fn values(exemplars: &[Exemplar]) -> Vec<f64> {
    exemplars
        .iter()
        .map(|e| as_f64(e.value.as_ref().expect("a value")))
        .collect()
}

fn remote_parent(flags: TraceFlags) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([3; 8]),
        flags,
        true,
        TraceState::empty(),
    )
}

#[test]
fn the_filter_is_read_from_its_variable() {
    for (value, filter) in [
        ("always_on", ExemplarFilter::AlwaysOn),
        ("always_off", ExemplarFilter::AlwaysOff),
        ("trace_based", ExemplarFilter::TraceBased),
        (" Always_On ", ExemplarFilter::AlwaysOn),
    ] {
        assert_eq!(ExemplarFilter::from_env_value(value).ok(), Some(filter));
    }
    assert_eq!(ExemplarFilter::default(), ExemplarFilter::TraceBased);
    assert_eq!(ExemplarFilter::AlwaysOff.to_string(), "always_off");
    let err = ExemplarFilter::from_env_value("sometimes")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OTEL_METRICS_EXEMPLAR_FILTER=\"sometimes\"")
            && err.contains("expected always_on, always_off or trace_based"),
        "{err}"
    );
}

#[test]
fn trace_based_takes_only_measurements_in_a_sampled_span() {
    let filter = ExemplarFilter::TraceBased;
    assert_eq!(filter.eligible(), None, "no span");
    assert_eq!(
        ExemplarFilter::AlwaysOn.eligible(),
        Some(Eligible { span: None })
    );
    // Spans of the tracer API under a remote parent (a no-op tracer's children inherit the
    // parent's trace and sampled flag, with span ids of their own).
    let tracer = Tracer::noop();
    {
        let _unsampled = remote_parent(TraceFlags::NONE).attach();
        tracer.in_span("work", |span| {
            assert!(span.span_context().is_valid());
            assert_eq!(filter.eligible(), None, "not sampled");
            let on = ExemplarFilter::AlwaysOn.eligible().expect("always");
            assert_eq!(
                on.span,
                SpanIds::of(span.span_context()),
                "span kept anyway"
            );
        });
    }
    let _sampled = remote_parent(TraceFlags::SAMPLED).attach();
    tracer.in_span("work", |span| {
        let ids = SpanIds::of(span.span_context()).expect("valid");
        assert_ne!(
            ids.span_id,
            SpanId::from_bytes([3; 8]),
            "the child, not the parent"
        );
        assert_eq!(filter.eligible(), Some(Eligible { span: Some(ids) }));
        assert_eq!(ExemplarFilter::AlwaysOff.eligible(), None);
    });
}

#[test]
fn exemplars_carry_value_time_span_and_filtered_attributes() {
    let r = SimpleFixedSize::new(1);
    let parent = remote_parent(TraceFlags::SAMPLED);
    let ids = SpanIds::of(&parent);
    let dropped = [KeyValue::new("user.id", "42")];
    r.offer(ExemplarValue::AsDouble(2.5), 1234, ids, &dropped);
    let mut out = Vec::new();
    r.collect(&mut out);
    assert_eq!(
        out,
        [Exemplar {
            time_unix_nano: 1234,
            value: Some(ExemplarValue::AsDouble(2.5)),
            span_id: Bytes::from_static(&[3; 8]),
            trace_id: Bytes::from_static(&[7; 16]),
            filtered_attributes: dropped.to_vec(),
        }]
    );
    r.offer(int(-1), 1, None, &[]);
    out.clear();
    r.collect(&mut out);
    assert!(out[0].trace_id.is_empty() && out[0].span_id.is_empty());
    assert_eq!(out[0].value, Some(int(-1)));
    assert_eq!(exemplar_value(NumberValue::AsInt(3)), int(3));
    assert_eq!(
        exemplar_value(NumberValue::AsDouble(0.5)),
        ExemplarValue::AsDouble(0.5)
    );
}

#[test]
fn fixed_size_keeps_at_most_its_size_and_drains_on_collect() {
    let r = SimpleFixedSize::new(4);
    let mut out = Vec::new();
    for v in 0..3 {
        r.offer(int(v), v as u64, None, &[]);
    }
    r.collect(&mut out);
    assert_eq!(
        values(&out),
        [0.0, 1.0, 2.0],
        "fewer than the size: all, in order"
    );
    out.clear();
    r.collect(&mut out);
    assert!(out.is_empty(), "drained");
    for v in 0..100 {
        r.offer(int(v), 0, None, &[]);
    }
    r.collect(&mut out);
    assert_eq!(out.len(), 4);
    // The count restarted: the next two offers are kept for sure (were the count still at
    // 100, each would be kept with probability 4/101).
    out.clear();
    r.offer(int(1000), 0, None, &[]);
    r.offer(int(1001), 0, None, &[]);
    r.collect(&mut out);
    assert_eq!(values(&out), [1000.0, 1001.0]);
}

#[test]
fn fixed_size_keeps_every_measurement_equally_likely() {
    fastrand::seed(0x5eed);
    let r = SimpleFixedSize::new(4);
    let mut out = Vec::new();
    // 1000 measurements per interval, 2000 intervals: each measurement kept 8 times on
    // average; by tenths of the interval, 800 each. Keeping the first or the last ones, or
    // favouring either end, puts a tenth far off that.
    let mut tenths = [0u32; 10];
    for _ in 0..2000 {
        for v in 0..1000 {
            r.offer(int(v), 0, None, &[]);
        }
        out.clear();
        r.collect(&mut out);
        assert_eq!(out.len(), 4);
        for v in values(&out) {
            tenths[(v as usize) / 100] += 1;
        }
    }
    assert_eq!(tenths.iter().sum::<u32>(), 8000);
    for (i, &n) in tenths.iter().enumerate() {
        assert!(
            (700..=900).contains(&n),
            "tenth {i}: {n} of 800 expected: {tenths:?}"
        );
    }
}

#[test]
fn aligned_keeps_the_last_of_each_bucket_with_boundaries_inclusive() {
    let r = AlignedHistogramBucket::new(Boundaries::new(&[0.0, 10.0, 100.0]).unwrap());
    let mut out = Vec::new();
    for (v, t) in [
        (5.0, 1),
        (10.0, 2),
        (-3.0, 3),
        (50.0, 4),
        (100.0, 5),
        (0.0, 6),
        (1e9, 7),
    ] {
        r.offer(ExemplarValue::AsDouble(v), t, None, &[]);
    }
    r.collect(&mut out);
    // Buckets: (-inf, 0] last 0.0; (0, 10] last 10.0; (10, 100] last 100.0; (100, inf) 1e9.
    assert_eq!(values(&out), [0.0, 10.0, 100.0, 1e9]);
    assert_eq!(
        out.iter().map(|e| e.time_unix_nano).collect::<Vec<_>>(),
        [6, 2, 5, 7]
    );
    out.clear();
    r.collect(&mut out);
    assert!(out.is_empty(), "drained");
    r.offer(int(7), 1, None, &[]);
    r.offer(ExemplarValue::AsDouble(3.0), 2, None, &[]);
    r.collect(&mut out);
    assert_eq!(
        values(&out),
        [3.0],
        "an integer lands in its bucket too, (0, 10]"
    );
}

#[test]
fn a_contended_offer_is_skipped_not_waited_for() {
    let r = SimpleFixedSize::new(2);
    let held = r.slots.slots.lock().unwrap();
    r.offer(int(1), 0, None, &[]); // would block: skipped
    drop(held);
    r.offer(int(2), 0, None, &[]);
    let mut out = Vec::new();
    r.collect(&mut out);
    assert_eq!(
        values(&out),
        [2.0],
        "the skipped offer still counted: slot 1 taken"
    );
}

#[test]
fn each_aggregation_gets_the_specifications_reservoir() {
    let explicit = StreamAggregation::ExplicitHistogram {
        boundaries: Boundaries::default(),
        record_min_max: true,
        record_sum: true,
    };
    assert!(matches!(
        Reservoir::for_aggregation(&explicit),
        Reservoir::Aligned(_)
    ));
    let one_bucket = StreamAggregation::ExplicitHistogram {
        boundaries: Boundaries::new(&[]).unwrap(),
        record_min_max: true,
        record_sum: true,
    };
    let size = |a: &StreamAggregation| match Reservoir::for_aggregation(a) {
        Reservoir::FixedSize(r) => r.size,
        Reservoir::Aligned(_) => panic!("aligned"),
    };
    assert_eq!(size(&one_bucket), 1);
    let exponential = |max_size| StreamAggregation::ExponentialHistogram {
        max_size,
        max_scale: 20,
        record_min_max: true,
        record_sum: true,
    };
    assert_eq!(size(&exponential(160)), 20);
    assert_eq!(size(&exponential(5)), 5);
    assert_eq!(size(&StreamAggregation::Sum { monotonic: true }), 1);
    assert_eq!(size(&StreamAggregation::LastValue), 1);
    // Through the enum: offers reach the reservoir.
    let r = Reservoir::for_aggregation(&explicit);
    r.offer(int(3), 0, None, &[]);
    let mut out = Vec::new();
    r.collect(&mut out);
    assert_eq!(values(&out), [3.0]);
}

#[test]
fn threads_offer_and_collect_concurrently() {
    let r = std::sync::Arc::new(Reservoir::FixedSize(SimpleFixedSize::new(3)));
    let attrs = [KeyValue::new("user.id", "7")];
    let mut kept = 0;
    std::thread::scope(|s| {
        for t in 0..4 {
            let r = &r;
            let attrs = &attrs;
            s.spawn(move || {
                for v in 0..20_000 {
                    r.offer(int(t * 100_000 + v), 1, None, attrs);
                }
            });
        }
        let mut out = Vec::new();
        for _ in 0..50 {
            out.clear();
            r.collect(&mut out);
            assert!(out.len() <= 3, "{}", out.len());
            assert!(out.iter().all(|e| e.filtered_attributes == attrs));
            kept += out.len();
        }
    });
    let mut out = Vec::new();
    r.collect(&mut out);
    assert!(kept + out.len() > 0, "something was kept");
}
