//! [`Meter`]: makes the instruments of one instrumentation scope, holds their callbacks, and
//! collects them.

use super::aggregate::buckets::Boundaries;
use super::aggregate::point::Aggregator;
use super::config::{Settings, Temporality};
use super::export::Collected;
use super::instrument::{Descriptor, Instrument};
use super::observable::{
    AsObservable, FromObservable, InstrumentCallback, MeterCallback, ObservableBuilder,
    ObservableCounter, ObservableGauge, ObservableState, ObservableUpDownCounter, ObservableValue,
    Observations, Registration, Unregister,
};
use super::synchronous::{
    Counter, Gauge, Histogram, InstrumentBuilder, InvalidInstrument, UpDownCounter,
};
use super::view::{
    InstrumentInfo, InstrumentKind, Stream as ViewStream, StreamDefaults, View, ViewError, resolve,
};
use otlp_proto::Str;
use otlp_proto::common::InstrumentationScope;
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What a meter collects: a synchronous instrument or an observable one.
pub(crate) trait Collect: Send + Sync {
    /// The instrument's metric now; `created` starts cumulative points, `last` (the previous
    /// collection) delta ones.
    fn collect(&self, created: u64, last: u64, now: u64) -> Option<Collected>;
}

impl<A: Aggregator> Collect for Instrument<A> {
    fn collect(&self, created: u64, last: u64, now: u64) -> Option<Collected> {
        let start = if self.is_delta() { last } else { created };
        Instrument::collect(self, start, now)
    }
}

impl Collect for ObservableState {
    fn collect(&self, created: u64, last: u64, now: u64) -> Option<Collected> {
        ObservableState::collect(self, created, last, now)
    }
}

/// An observable instrument's streams and its own callbacks.
struct Observed {
    states: Vec<Arc<ObservableState>>,
    callbacks: Vec<InstrumentCallback>,
}

pub(crate) struct MeterState {
    scope: InstrumentationScope,
    schema_url: Str,
    /// The scope's index in the client's table.
    index: u32,
    settings: Arc<Settings>,
    instruments: Mutex<Vec<Arc<dyn Collect>>>,
    observed: Mutex<Vec<Observed>>,
    callbacks: Mutex<Vec<(u64, MeterCallback)>>,
    next_callback: AtomicU64,
    /// The instruments made, by identity: making an identical one again returns the first, so
    /// that both record into the same streams (the specification's duplicate registration).
    made: Mutex<HashMap<Identity, Box<dyn Any + Send + Sync>>>,
    /// When the meter was made: the start of cumulative points.
    created: u64,
    /// When it was last collected: the start of delta points.
    last: AtomicU64,
}

impl std::fmt::Debug for MeterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("scope", &self.scope.name)
            .field("version", &self.scope.version)
            .field("temporality", &self.settings.temporality)
            .finish_non_exhaustive()
    }
}

/// What makes two instruments of a meter the same instrument: the name (in any case), kind,
/// number type, unit, description and histogram boundaries.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    name: String,
    kind: InstrumentKind,
    instrument: TypeId,
    unit: String,
    description: String,
    boundaries: Option<Vec<u64>>,
}

impl Identity {
    pub(crate) fn new<I: 'static>(
        kind: InstrumentKind,
        descriptor: &Descriptor,
        boundaries: Option<&[f64]>,
    ) -> Self {
        Identity {
            name: descriptor.name.to_ascii_lowercase(),
            kind,
            instrument: TypeId::of::<I>(),
            unit: descriptor.unit.to_string(),
            description: descriptor.description.to_string(),
            boundaries: boundaries.map(|b| b.iter().map(|v| v.to_bits()).collect()),
        }
    }
}

impl Unregister for MeterState {
    fn unregister(&self, id: u64) -> bool {
        let mut callbacks = self
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = callbacks.len();
        callbacks.retain(|(i, _)| *i != id);
        callbacks.len() != before
    }
}

/// The meter's instrument constructors, one per kind and number type.
macro_rules! constructors {
    ($($(#[$m:meta])* $method:ident => $builder:ident<$($t:ty),+>;)*) => {$(
        $(#[$m])*
        pub fn $method(&self, name: impl Into<Str>) -> $builder<'_, $($t),+> {
            $builder::start(self, name)
        }
    )*};
}

/// Makes instruments for one instrumentation scope. Get one from
/// [`OtlpClient::meter`](crate::OtlpClient::meter); clones share everything.
///
/// Synchronous instruments ([`Counter`], [`UpDownCounter`], [`Histogram`], [`Gauge`]) record
/// as the program runs; observable ones ([`ObservableCounter`], [`ObservableUpDownCounter`],
/// [`ObservableGauge`]) are read by callbacks at each collection.
#[derive(Clone)]
pub struct Meter {
    pub(crate) state: Arc<MeterState>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.state.fmt(f)
    }
}

impl Meter {
    /// A meter for `scope` (index `index` in the client's table) under `settings`.
    pub(crate) fn new(
        scope: InstrumentationScope,
        schema_url: Str,
        index: u32,
        settings: Arc<Settings>,
    ) -> Self {
        let now = crate::clock::now_unix_nanos();
        Meter {
            state: Arc::new(MeterState {
                scope,
                schema_url,
                index,
                settings,
                instruments: Mutex::new(Vec::new()),
                observed: Mutex::new(Vec::new()),
                callbacks: Mutex::new(Vec::new()),
                next_callback: AtomicU64::new(0),
                made: Mutex::new(HashMap::new()),
                created: now,
                last: AtomicU64::new(now),
            }),
        }
    }

    /// The meter's instrumentation scope.
    pub(crate) fn scope(&self) -> &InstrumentationScope {
        &self.state.scope
    }

    /// The schema URL of the meter's telemetry.
    pub(crate) fn schema_url(&self) -> &Str {
        &self.state.schema_url
    }

    /// The index of the meter's scope in the client's table.
    pub(crate) fn scope_index(&self) -> u32 {
        self.state.index
    }

    constructors! {
        /// A counter of `u64` increments.
        u64_counter => InstrumentBuilder<Counter<u64>>;
        /// A counter of `f64` increments.
        f64_counter => InstrumentBuilder<Counter<f64>>;
        /// A sum that goes up and down, in `i64`.
        i64_up_down_counter => InstrumentBuilder<UpDownCounter<i64>>;
        /// A sum that goes up and down, in `f64`.
        f64_up_down_counter => InstrumentBuilder<UpDownCounter<f64>>;
        /// A histogram of `u64` values.
        u64_histogram => InstrumentBuilder<Histogram<u64>>;
        /// A histogram of `f64` values.
        f64_histogram => InstrumentBuilder<Histogram<f64>>;
        /// A gauge of `i64` values.
        i64_gauge => InstrumentBuilder<Gauge<i64>>;
        /// A gauge of `u64` values.
        u64_gauge => InstrumentBuilder<Gauge<u64>>;
        /// A gauge of `f64` values.
        f64_gauge => InstrumentBuilder<Gauge<f64>>;
        /// An observable counter of `u64` totals.
        u64_observable_counter => ObservableBuilder<ObservableCounter<u64>, u64>;
        /// An observable counter of `f64` totals.
        f64_observable_counter => ObservableBuilder<ObservableCounter<f64>, f64>;
        /// An observable up-down counter of `i64` totals.
        i64_observable_up_down_counter => ObservableBuilder<ObservableUpDownCounter<i64>, i64>;
        /// An observable up-down counter of `f64` totals.
        f64_observable_up_down_counter => ObservableBuilder<ObservableUpDownCounter<f64>, f64>;
        /// An observable gauge of `i64` values.
        i64_observable_gauge => ObservableBuilder<ObservableGauge<i64>, i64>;
        /// An observable gauge of `u64` values.
        u64_observable_gauge => ObservableBuilder<ObservableGauge<u64>, u64>;
        /// An observable gauge of `f64` values.
        f64_observable_gauge => ObservableBuilder<ObservableGauge<f64>, f64>;
    }

    /// Registers `callback`, which reports any of this meter's observable instruments through
    /// [`Observations::observe`] at every collection, until the returned [`Registration`] is
    /// [unregistered](Registration::unregister).
    ///
    /// ```
    /// # fn demo(meter: otlp::metrics::Meter) {
    /// use otlp::metrics::KeyValue;
    /// let used = meter.u64_observable_gauge("pool.used").build();
    /// let idle = meter.u64_observable_gauge("pool.idle").build();
    /// let registration = meter.register_callback({
    ///     let (used, idle) = (used.clone(), idle.clone());
    ///     move |o| {
    ///         o.observe(&used, 3, &[KeyValue::new("pool", "db")]);
    ///         o.observe(&idle, 5, &[KeyValue::new("pool", "db")]);
    ///     }
    /// });
    /// // Later, when the pool goes away:
    /// registration.unregister();
    /// # }
    /// ```
    pub fn register_callback(
        &self,
        callback: impl Fn(&Observations<'_>) + Send + Sync + 'static,
    ) -> Registration {
        let id = self.state.next_callback.fetch_add(1, Ordering::Relaxed);
        self.state
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, Arc::new(callback)));
        let state: Arc<dyn Unregister> = self.state.clone();
        Registration {
            meter: Arc::downgrade(&state),
            id,
        }
    }

    /// Every instrument's metric now: the callbacks run first (a panicking callback reports
    /// nothing and does not stop the others), then every instrument is read.
    pub(crate) fn collect(&self) -> Vec<Collected> {
        let now = crate::clock::now_unix_nanos();
        let last = self.state.last.swap(now, Ordering::Relaxed);
        self.run_callbacks();
        let instruments = self
            .state
            .instruments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        instruments
            .iter()
            .filter_map(|i| i.collect(self.state.created, last, now))
            .collect()
    }

    fn run_callbacks(&self) {
        let observed: Vec<(Vec<Arc<ObservableState>>, Vec<InstrumentCallback>)> = self
            .state
            .observed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|o| (o.states.clone(), o.callbacks.clone()))
            .collect();
        for (states, callbacks) in &observed {
            for callback in callbacks {
                let _ = catch_unwind(AssertUnwindSafe(|| callback(states)));
            }
        }
        let callbacks: Vec<MeterCallback> = self
            .state
            .callbacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        if callbacks.is_empty() {
            return;
        }
        let known: Vec<Arc<ObservableState>> = observed.into_iter().flat_map(|(s, _)| s).collect();
        let observations = Observations { known: &known };
        for callback in callbacks {
            let _ = catch_unwind(AssertUnwindSafe(|| callback(&observations)));
        }
    }

    pub(crate) fn register<A: Aggregator>(&self, instrument: Instrument<A>) -> Arc<Instrument<A>> {
        let instrument = Arc::new(instrument);
        self.state
            .instruments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(instrument.clone());
        instrument
    }

    /// The temporality of instruments of `kind` in this meter.
    pub(crate) fn temporality_of(&self, kind: InstrumentKind) -> Temporality {
        super::config::temporality_of(self.state.settings.temporality, kind)
    }

    /// The instrument of `identity` made before, or the one `make` makes now (kept for the next
    /// time when made).
    pub(crate) fn once<I: Clone + Send + Sync + 'static, E>(
        &self,
        identity: Identity,
        make: impl FnOnce() -> Result<I, E>,
    ) -> Result<I, E> {
        let mut made = self
            .state
            .made
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = made.get(&identity).and_then(|i| i.downcast_ref::<I>()) {
            return Ok(i.clone());
        }
        let instrument = make()?;
        made.insert(identity, Box::new(instrument.clone()));
        Ok(instrument)
    }

    /// The streams of a new instrument of `kind` described by `descriptor`: one per view of the
    /// client selecting it, or its default one; with `views` false, its default one.
    pub(crate) fn streams_for(
        &self,
        kind: InstrumentKind,
        descriptor: &Descriptor,
        advisory_boundaries: Option<&Boundaries>,
        views: bool,
    ) -> Result<Vec<ViewStream>, ViewError> {
        let settings = &self.state.settings;
        let info = InstrumentInfo {
            name: &descriptor.name,
            kind,
            unit: &descriptor.unit,
            description: &descriptor.description,
            meter_name: &self.state.scope.name,
            meter_version: &self.state.scope.version,
            meter_schema_url: &self.state.schema_url,
            advisory_boundaries,
        };
        let defaults = StreamDefaults {
            histogram: settings.histogram,
            cardinality_limit: settings.cardinality_limit,
        };
        let views: &[View] = if views { &settings.views } else { &[] };
        resolve(views, &info, &defaults)
    }

    /// Which measurements may become exemplars.
    pub(crate) fn exemplar_filter(&self) -> super::exemplar::ExemplarFilter {
        self.state.settings.exemplar_filter
    }
}

impl<I, T> ObservableBuilder<'_, I, T>
where
    I: FromObservable + AsObservable + Clone + Send + Sync + 'static,
    T: ObservableValue,
{
    /// The instrument, or why it cannot be made as asked: its name or unit is not allowed, or a
    /// view selecting it cannot apply to it.
    pub fn try_build(self) -> Result<I, InvalidInstrument> {
        self.make(false).map_err(|(e, _)| e)
    }

    /// The instrument. One whose name or unit is not allowed reports nothing; one a view cannot
    /// apply to reports its default stream, as if no view selected it (use
    /// [`try_build`](Self::try_build) to learn why).
    pub fn build(self) -> I {
        self.make(true)
            .unwrap_or_else(|(_, fallback)| fallback.unwrap_or_else(|| I::from_states(Vec::new())))
    }

    /// The instrument, or why not, with (if `fallback`) what `build` gives instead when a view
    /// cannot apply: the default stream, not kept as the instrument. A bad name or unit has
    /// none (a no-op).
    fn make(self, fallback: bool) -> Result<I, (InvalidInstrument, Option<I>)> {
        let descriptor = Descriptor::checked(self.name, self.description, self.unit)
            .map_err(|e| (InvalidInstrument(e), None))?;
        let identity = Identity::new::<I>(I::KIND, &descriptor, None);
        let meter = self.meter;
        let made = meter.once(identity, || {
            meter
                .streams_for(I::KIND, &descriptor, None, true)
                .map(|streams| register::<I>(meter, streams))
        });
        match made {
            Ok(instrument) => {
                meter.add_callbacks(instrument.observable_states(), self.callbacks);
                Ok(instrument)
            }
            Err(e) => {
                let fallback = fallback.then(|| {
                    let streams = meter
                        .streams_for(I::KIND, &descriptor, None, false)
                        .unwrap_or_default();
                    let instrument = register::<I>(meter, streams);
                    meter.add_callbacks(instrument.observable_states(), self.callbacks);
                    instrument
                });
                Err((InvalidInstrument::view(&e), fallback))
            }
        }
    }
}

/// Makes the observable instrument of `streams` in `meter`, registered for collection.
fn register<I: FromObservable>(meter: &Meter, streams: Vec<ViewStream>) -> I {
    let temporality = meter.temporality_of(I::KIND);
    let states: Vec<Arc<ObservableState>> = streams
        .into_iter()
        .map(|s| Arc::new(ObservableState::new(s, temporality)))
        .collect();
    let mut instruments = meter
        .state
        .instruments
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for state in &states {
        instruments.push(state.clone());
    }
    drop(instruments);
    // Known to the meter's multi-instrument callbacks even without callbacks of its own.
    meter.add_callbacks(&states, Vec::new());
    I::from_states(states)
}

impl Meter {
    /// Runs `callbacks` at each collection, reporting into `states` (which the meter's
    /// multi-instrument callbacks may then report into too).
    fn add_callbacks(&self, states: &[Arc<ObservableState>], callbacks: Vec<InstrumentCallback>) {
        self.state
            .observed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Observed {
                states: states.to_vec(),
                callbacks,
            });
    }
}
