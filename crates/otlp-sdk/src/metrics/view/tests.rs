use super::*;
use crate::config::HistogramAggregation;
use otlp_proto::common::KeyValue;

struct Instrument {
    name: Str,
    kind: InstrumentKind,
    unit: Str,
    description: Str,
    meter: &'static str,
    version: &'static str,
    schema_url: &'static str,
    boundaries: Option<Boundaries>,
}

fn instrument(name: &'static str, kind: InstrumentKind) -> Instrument {
    Instrument {
        name: Str::from_static(name),
        kind,
        unit: Str::from_static("ms"),
        description: Str::from_static("how long"),
        meter: "checkout",
        version: "1.2.0",
        schema_url: "https://opentelemetry.io/schemas/1.30.0",
        boundaries: None,
    }
}

impl Instrument {
    fn info(&self) -> InstrumentInfo<'_> {
        InstrumentInfo {
            name: &self.name,
            kind: self.kind,
            unit: &self.unit,
            description: &self.description,
            meter_name: self.meter,
            meter_version: self.version,
            meter_schema_url: self.schema_url,
            advisory_boundaries: self.boundaries.as_ref(),
        }
    }

    fn streams(&self, views: &[View]) -> Vec<Stream> {
        resolve(views, &self.info(), &StreamDefaults::default()).expect("resolves")
    }

    fn error(&self, views: &[View]) -> String {
        match resolve(views, &self.info(), &StreamDefaults::default()) {
            Ok(streams) => panic!("resolved to {streams:?}"),
            Err(e) => e.to_string(),
        }
    }
}

/// Whether `view` selects the instrument (it renames what it selects).
fn selects(view: View, i: &Instrument) -> bool {
    let streams = i.streams(&[view.with_description("selected")]);
    assert_eq!(streams.len(), 1);
    streams[0].description == "selected"
}

use InstrumentKind::*;

#[test]
fn without_views_each_kind_gets_its_default_aggregation() {
    let expect = [
        (Counter, StreamAggregation::Sum { monotonic: true }),
        (UpDownCounter, StreamAggregation::Sum { monotonic: false }),
        (
            ObservableCounter,
            StreamAggregation::Sum { monotonic: true },
        ),
        (
            ObservableUpDownCounter,
            StreamAggregation::Sum { monotonic: false },
        ),
        (Gauge, StreamAggregation::LastValue),
        (ObservableGauge, StreamAggregation::LastValue),
        (
            Histogram,
            StreamAggregation::ExplicitHistogram {
                boundaries: Boundaries::default(),
                record_min_max: true,
                record_sum: true,
            },
        ),
    ];
    for (kind, aggregation) in expect {
        let i = instrument("x", kind);
        let streams = i.streams(&[]);
        assert_eq!(streams.len(), 1);
        let s = &streams[0];
        assert_eq!(s.aggregation, aggregation, "{kind:?}");
        assert_eq!((s.name.as_str(), s.unit.as_str()), ("x", "ms"));
        assert_eq!(s.description, "how long");
        assert!(s.attributes.is_all());
        assert_eq!(s.cardinality_limit, Some(2000));
    }
}

#[test]
fn histograms_default_to_advisory_boundaries_or_the_configured_exponential() {
    let mut h = instrument("latency", Histogram);
    h.boundaries = Some(Boundaries::new(&[1.0, 2.0]).unwrap());
    let explicit = h.streams(&[]);
    let StreamAggregation::ExplicitHistogram { boundaries, .. } = &explicit[0].aggregation else {
        panic!("{explicit:?}");
    };
    assert_eq!(boundaries.as_slice(), [1.0, 2.0]);
    let defaults = StreamDefaults {
        histogram: HistogramAggregation::Base2Exponential,
        cardinality_limit: None,
    };
    let exponential = resolve(&[], &h.info(), &defaults).unwrap();
    assert_eq!(
        exponential[0].aggregation,
        StreamAggregation::ExponentialHistogram {
            max_size: 160,
            max_scale: 20,
            record_min_max: true,
            record_sum: true,
        }
    );
    assert_eq!(exponential[0].cardinality_limit, None, "the default passed");
    // A view's default aggregation follows the same rule.
    let view = View::new().with_instrument_name("latency");
    let by_view = resolve(&[view], &h.info(), &defaults).unwrap();
    assert_eq!(by_view[0].aggregation, exponential[0].aggregation);
}

#[test]
fn every_selection_criterion_must_hold() {
    let i = instrument("http.server.duration", Histogram);
    assert!(selects(
        View::new().with_instrument_name("http.server.duration"),
        &i
    ));
    assert!(selects(
        View::new().with_instrument_name("HTTP.Server.Duration"),
        &i
    ));
    assert!(selects(View::new().with_instrument_name("http.*"), &i));
    assert!(selects(
        View::new().with_instrument_name("http.server.duratio?"),
        &i
    ));
    assert!(!selects(View::new().with_instrument_name("rpc.*"), &i));
    assert!(selects(View::new().with_instrument_kind(Histogram), &i));
    assert!(!selects(View::new().with_instrument_kind(Counter), &i));
    assert!(selects(View::new().with_instrument_unit("ms"), &i));
    assert!(
        !selects(View::new().with_instrument_unit("Ms"), &i),
        "units are case-sensitive"
    );
    assert!(selects(View::new().with_meter_name("checkout"), &i));
    assert!(!selects(View::new().with_meter_name("Checkout"), &i));
    assert!(selects(View::new().with_meter_version("1.2.0"), &i));
    assert!(!selects(View::new().with_meter_version("1.2"), &i));
    let url = "https://opentelemetry.io/schemas/1.30.0";
    assert!(selects(View::new().with_meter_schema_url(url), &i));
    assert!(!selects(View::new().with_meter_schema_url("x"), &i));
    let all = View::new()
        .with_instrument_name("http.*")
        .with_instrument_kind(Histogram)
        .with_instrument_unit("ms")
        .with_meter_name("checkout");
    assert!(selects(all.clone(), &i));
    assert!(
        !selects(all.with_meter_name("cart"), &i),
        "criteria are additive"
    );
}

#[test]
fn views_rename_redescribe_and_limit() {
    let i = instrument("requests", Counter);
    let view = View::new()
        .with_instrument_name("Requests")
        .with_name("http.requests")
        .with_description("served")
        .with_cardinality_limit(Some(10));
    let s = &i.streams(&[view])[0];
    assert_eq!(s.name, "http.requests");
    assert_eq!(s.description, "served");
    assert_eq!(s.unit, "ms", "the unit stays the instrument's");
    assert_eq!(s.cardinality_limit, Some(10));
    let unlimited = View::new()
        .with_instrument_name("requests")
        .with_cardinality_limit(None);
    assert_eq!(i.streams(&[unlimited])[0].cardinality_limit, None);
}

#[test]
fn attribute_filters_keep_or_drop_keys() {
    let attrs = [
        KeyValue::new("route", "/a"),
        KeyValue::new("user.id", "42"),
        KeyValue::new("method", "GET"),
    ];
    let keys = |it: &mut dyn Iterator<Item = &KeyValue>| -> Vec<String> {
        it.map(|kv| kv.key.to_string()).collect()
    };
    let i = instrument("requests", Counter);
    let only = View::new()
        .with_instrument_name("requests")
        .with_allowed_attribute_keys(["route", "method", "route"]);
    let f = &i.streams(&[only])[0].attributes;
    assert!(!f.is_all());
    assert_eq!(keys(&mut f.kept(&attrs)), ["route", "method"]);
    assert_eq!(keys(&mut f.dropped(&attrs)), ["user.id"]);
    let except = View::new()
        .with_instrument_name("requests")
        .with_excluded_attribute_keys(["user.id"]);
    let f = &i.streams(&[except])[0].attributes;
    assert_eq!(keys(&mut f.kept(&attrs)), ["route", "method"]);
    assert!(f.keep("anything.else"));
    assert!(!f.keep("user.id"));
    // Many keys are searched, not scanned: the same answers.
    let many: Vec<String> = (0..20).map(|n| format!("k{n}")).collect();
    let f = AttributeFilter::only(&many);
    assert!(f.keep("k0") && f.keep("k19") && f.keep("k7"));
    assert!(!f.keep("k20") && !f.keep("route"));
    let none = View::new()
        .with_instrument_name("requests")
        .with_allowed_attribute_keys(Vec::<String>::new());
    let f = &i.streams(&[none])[0].attributes;
    assert_eq!(keys(&mut f.kept(&attrs)), Vec::<String>::new());
}

#[test]
fn each_selecting_view_makes_a_stream_and_drop_makes_none() {
    let i = instrument("latency", Histogram);
    let views = [
        View::new()
            .with_instrument_name("latency")
            .with_name("latency.sum")
            .with_aggregation(Aggregation::Sum),
        View::new().with_instrument_kind(Histogram),
        View::new()
            .with_instrument_kind(Counter)
            .with_aggregation(Aggregation::Drop),
    ];
    let streams = i.streams(&views);
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0].name, "latency.sum");
    assert_eq!(
        streams[0].aggregation,
        StreamAggregation::Sum { monotonic: true }
    );
    assert_eq!(streams[1].name, "latency");
    assert!(matches!(
        streams[1].aggregation,
        StreamAggregation::ExplicitHistogram { .. }
    ));
    let drop = View::new()
        .with_instrument_name("lat*")
        .with_aggregation(Aggregation::Drop);
    assert!(
        i.streams(std::slice::from_ref(&drop)).is_empty(),
        "dropped, not the default stream"
    );
    assert_eq!(i.streams(&[drop, views[1].clone()]).len(), 1);
}

#[test]
fn aggregations_apply_per_kind() {
    let histogram = Aggregation::ExplicitBucketHistogram {
        boundaries: vec![0.0, 10.0],
        record_min_max: false,
    };
    // Sums and last values apply to every kind.
    let gauge = instrument("temperature", Gauge);
    let sum = View::new()
        .with_instrument_kind(Gauge)
        .with_aggregation(Aggregation::Sum);
    assert_eq!(
        gauge.streams(&[sum])[0].aggregation,
        StreamAggregation::Sum { monotonic: false }
    );
    let counter = instrument("requests", Counter);
    let last = View::new()
        .with_instrument_kind(Counter)
        .with_aggregation(Aggregation::LastValue);
    assert_eq!(
        counter.streams(&[last])[0].aggregation,
        StreamAggregation::LastValue
    );
    // Histograms of synchronous kinds: the sum only where measurements are non-negative.
    let view = View::new()
        .with_instrument_name("*")
        .with_aggregation(histogram.clone());
    let up_down = instrument("queue", UpDownCounter);
    assert_eq!(
        up_down.streams(std::slice::from_ref(&view))[0].aggregation,
        StreamAggregation::ExplicitHistogram {
            boundaries: Boundaries::new(&[0.0, 10.0]).unwrap(),
            record_min_max: false,
            record_sum: false,
        }
    );
    let exp = View::new()
        .with_instrument_name("*")
        .with_aggregation(Aggregation::base2_exponential_histogram());
    assert!(matches!(
        counter.streams(std::slice::from_ref(&exp))[0].aggregation,
        StreamAggregation::ExponentialHistogram {
            record_sum: true,
            max_size: 160,
            ..
        }
    ));
    // Not of asynchronous ones: an error naming view, aggregation and instrument.
    let observed = instrument("cpu.time", ObservableCounter);
    let message = observed.error(&[view.with_label("all histograms")]);
    assert_eq!(
        message,
        "view \"all histograms\": cannot apply the explicit bucket histogram aggregation to \
         instrument \"cpu.time\", an ObservableCounter: histograms of asynchronous instruments' \
         observations have no meaning"
    );
    let message = instrument("mem", ObservableGauge).error(&[exp]);
    assert!(
        message.starts_with("view {name=\"*\"}: cannot apply the base-2 exponential"),
        "{message}"
    );
    assert!(message.contains("\"mem\", an ObservableGauge"), "{message}");
}

/// Every problem `validate` finds, and its message (which names the view).
#[test]
fn validation_names_the_view_and_the_problem() {
    let named = || View::new().with_instrument_name("requests");
    let cases: Vec<(View, &str)> = vec![
        (
            View::new(),
            "view {}: selects no instrument: set at least one criterion",
        ),
        (
            View::new().with_instrument_name("http.*").with_name("http"),
            "view {name=\"http.*\"}: renames to \"http\" but does not select one instrument by \
             its exact name (several instruments would share the name)",
        ),
        (
            View::new()
                .with_instrument_kind(Counter)
                .with_meter_name("m")
                .with_name("c"),
            "view {kind=Counter, meter=\"m\"}: renames to \"c\" but does not select one \
             instrument by its exact name (several instruments would share the name)",
        ),
        (
            named().with_name("9 lives"),
            "view {name=\"requests\"}: renames to an invalid name: instrument name \"9 lives\" \
             does not start with a letter",
        ),
        (
            named()
                .with_allowed_attribute_keys(["a"])
                .with_excluded_attribute_keys(["b"]),
            "view {name=\"requests\"}: sets both allowed and excluded attribute keys: choose one",
        ),
        (
            named().with_label("limits").with_cardinality_limit(Some(0)),
            "view \"limits\": sets a cardinality limit of 0 (use None for no limit, or at least 1)",
        ),
        (
            named().with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0, 5.0, 5.0],
                record_min_max: true,
            }),
            "view {name=\"requests\"}: histogram boundary 5 at position 2 is not a finite number \
             above the one before it",
        ),
        (
            named().with_aggregation(Aggregation::Base2ExponentialHistogram {
                max_size: 1,
                max_scale: 20,
                record_min_max: true,
            }),
            "view {name=\"requests\"}: sets an exponential histogram of max_size 1: at least 2 \
             are needed",
        ),
        (
            named().with_aggregation(Aggregation::Base2ExponentialHistogram {
                max_size: 2,
                max_scale: 21,
                record_min_max: true,
            }),
            "view {name=\"requests\"}: sets an exponential histogram of max_scale 21: it must be \
             in -10..=20",
        ),
        (
            named().with_aggregation(Aggregation::Base2ExponentialHistogram {
                max_size: 160,
                max_scale: -11,
                record_min_max: true,
            }),
            "view {name=\"requests\"}: sets an exponential histogram of max_scale -11: it must be \
             in -10..=20",
        ),
    ];
    let i = instrument("requests", Counter);
    for (view, message) in cases {
        assert_eq!(
            view.validate().map_err(|e| e.to_string()),
            Err(message.to_owned())
        );
        // Also refused when an instrument is resolved (if the view selects it).
        if view.selector.matches(&i.info()) {
            assert_eq!(i.error(&[view]), message);
        }
    }
    for ok in [
        named().with_name("http.requests"),
        named().with_cardinality_limit(None),
        named().with_aggregation(Aggregation::Base2ExponentialHistogram {
            max_size: 2,
            max_scale: -10,
            record_min_max: false,
        }),
        View::new()
            .with_instrument_name("*")
            .with_aggregation(Aggregation::Drop),
    ] {
        assert_eq!(ok.validate(), Ok(()), "{ok:?}");
    }
}

#[test]
fn a_view_that_does_not_select_the_instrument_is_not_checked_against_it() {
    let i = instrument("requests", Counter);
    let bad_elsewhere = View::new()
        .with_instrument_name("other")
        .with_cardinality_limit(Some(0));
    assert_eq!(i.streams(&[bad_elsewhere]).len(), 1, "the default stream");
}
