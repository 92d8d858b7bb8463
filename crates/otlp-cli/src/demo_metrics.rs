//! The metrics part of `otlp demo`: instruments of every kind recorded through the client's
//! meter, exported by its flush, and checked value by value at the receiver.

use otlp::OtlpClient;
use otlp::metrics::{Aggregation, KeyValue, View};
use otlp_proto::metrics::{Metric, MetricData, NumberValue};

/// What the demo recorded that it cannot know ahead.
pub(crate) struct Recorded {
    /// The available parallelism the observable gauge reports.
    cpus: i64,
}

/// The instruments' names.
const REQUESTS: &str = "demo.checkout.requests";
const DURATION: &str = "http.server.request.duration";
const AMOUNT: &str = "demo.payment.amount";
const CART: &str = "demo.cart.items";
const SESSIONS: &str = "demo.sessions.active";
const CPUS: &str = "demo.cpus.available";

/// The view making the payment amounts a base-2 exponential histogram (amounts have no natural
/// bucket boundaries).
pub(crate) fn exponential_view() -> View {
    View::new()
        .with_instrument_name(AMOUNT)
        .with_aggregation(Aggregation::base2_exponential_histogram())
}

/// Records into one instrument of each kind (a counter, an explicit and an exponential
/// histogram, a gauge, an up-down counter, an observable gauge).
pub(crate) fn record(client: &OtlpClient) -> Recorded {
    let meter = client
        .meter_builder("otlp-demo")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let route = [KeyValue::new("http.route", "/checkout")];
    let requests = meter
        .u64_counter(REQUESTS)
        .with_unit("{request}")
        .with_description("checkout requests served")
        .build();
    let duration = meter
        .f64_histogram(DURATION)
        .with_unit("s")
        .with_boundaries([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0])
        .build();
    let amount = meter.f64_histogram(AMOUNT).with_unit("{EUR}").build();
    for (seconds, euros) in [(0.004, 19.9), (0.02, 59.9), (0.3, 120.0)] {
        requests.add(1, &route);
        duration.record(seconds, &route);
        amount.record(euros, &[]);
    }
    meter
        .i64_gauge(CART)
        .with_unit("{item}")
        .build()
        .record(3, &route);
    let sessions = meter.i64_up_down_counter(SESSIONS).build();
    sessions.add(3, &[]);
    sessions.add(-1, &[]);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as i64);
    let _ = meter
        .i64_observable_gauge(CPUS)
        .with_unit("{cpu}")
        .with_callback(move |o| o.observe(cpus, &[]))
        .build();
    Recorded { cpus }
}

/// Whether `metrics` hold what [`record`] recorded; the summary line, or what differs.
pub(crate) fn check(recorded: &Recorded, metrics: &[Metric]) -> Result<String, String> {
    let find = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name.as_str() == name)
            .ok_or_else(|| format!("no metric {name:?} arrived"))
    };
    let number = |name: &str| -> Result<NumberValue, String> {
        let metric = find(name)?;
        let point = match &metric.data {
            Some(MetricData::Sum(s)) => s.data_points.first(),
            Some(MetricData::Gauge(g)) => g.data_points.first(),
            _ => None,
        };
        point
            .and_then(|p| p.value.clone())
            .ok_or_else(|| format!("{name:?} has no value"))
    };
    let expect = |name: &str, want: NumberValue| -> Result<(), String> {
        let got = number(name)?;
        (got == want)
            .then_some(())
            .ok_or_else(|| format!("{name:?} arrived as {got:?}, recorded {want:?}"))
    };
    expect(REQUESTS, NumberValue::AsInt(3))?;
    expect(CART, NumberValue::AsInt(3))?;
    expect(SESSIONS, NumberValue::AsInt(2))?;
    expect(CPUS, NumberValue::AsInt(recorded.cpus))?;
    let Some(MetricData::Histogram(h)) = &find(DURATION)?.data else {
        return Err(format!("{DURATION:?} is not a histogram"));
    };
    let point = h.data_points.first().ok_or("an empty histogram")?;
    if point.count != 3 || point.bucket_counts != [1, 0, 1, 0, 0, 0, 1, 0, 0] {
        return Err(format!(
            "{DURATION:?} arrived with count {} and buckets {:?}",
            point.count, point.bucket_counts
        ));
    }
    let amount = find(AMOUNT)?;
    let amount_point = match &amount.data {
        Some(MetricData::ExponentialHistogram(h)) => h.data_points.first(),
        _ => None,
    };
    if amount_point.map(|p| (p.count, p.sum)) != Some((3, Some(19.9 + 59.9 + 120.0))) {
        return Err(format!(
            "{AMOUNT:?} did not arrive as an exponential histogram of 3 amounts: {amount:?}"
        ));
    }
    let mut names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(format!(
        "sdk metrics: {} instruments recorded through OtlpClient over grpc arrived with their \
         values: {REQUESTS}=3, {DURATION} count=3 buckets ok, {AMOUNT} exponential count=3, \
         {CART}=3, \
         {SESSIONS}=2, {CPUS}={} (observable)",
        names.len(),
        recorded.cpus
    ))
}
