//! A [`metrics`] recorder that records through OTLP instruments, so what libraries record with
//! `metrics::counter!`, `metrics::gauge!` and `metrics::histogram!` is exported over OTLP by an
//! [`OtlpClient`] (in the `otlp` crate: feature `metrics-rs`, as `otlp::metrics_rs`).
//!
//! # Installing it
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use otlp_metrics_rs::OtlpRecorder;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//! // Instruments of the meter `client.meter("metrics")`; `with_scope` chooses another scope.
//! OtlpRecorder::new(&client).install()?;
//!
//! metrics::describe_histogram!("http.server.duration", metrics::Unit::Seconds, "Time to serve");
//! metrics::counter!("requests", "route" => "/cart").increment(1);
//! metrics::histogram!("http.server.duration", "route" => "/cart").record(0.012);
//! # Ok(())
//! # }
//! ```
//!
//! There is one global recorder per process: [`OtlpRecorder::install`] fails (an error value,
//! not a panic) when one is already set. For tests, or to record through a recorder only in
//! part of a program, [`metrics::with_local_recorder`] takes an `OtlpRecorder` without
//! installing it.
//!
//! # What maps to what
//!
//! | `metrics` | OTLP instrument | recording |
//! |---|---|---|
//! | counter (`u64`) | `Counter<u64>` (a monotonic sum) | `increment(n)` adds `n`; `absolute(v)` adds `v` minus the highest value given to `absolute` before (nothing when `v` is not higher: the source restarted, and the counter resumes once the source passes its old highest value) |
//! | gauge (`f64`) | `Gauge<f64>` (last value) | `set(v)` records `v`; `increment(n)` and `decrement(n)` change the handle's current value (starting at 0) and record the result |
//! | histogram (`f64`) | `Histogram<f64>` (explicit buckets, the SDK's default boundaries) | `record(v)` records `v`; negative values are dropped, as the specification asks of histograms |
//!
//! One instrument is made per metric name and kind, the first time the name is registered; each
//! set of labels is one series, its labels the series' string attributes. A handle
//! (`metrics::Counter` and the others) is bound to its series when registered, so recording
//! through it looks nothing up (gauges look their series up on each record: the SDK's gauges
//! cannot be bound yet). The same key registered again gets the same handle, so `absolute`
//! and a gauge's current value are per series, whichever call site records.
//!
//! A counter and a gauge of the same name are two instruments of that name, as `metrics`
//! allows; OTLP backends may report them as a conflict, so give them distinct names.
//!
//! # Names
//!
//! `metrics` allows any name; OTLP instrument names are ASCII letters, digits, `_`, `.`, `-`
//! and `/`, start with a letter and have at most 255 characters. A name that is not valid is
//! made valid rather than dropped: each other character becomes `_`, a name that does not
//! start with an ASCII letter is prefixed with `metric_`, and the result is cut at 255
//! characters (`"cache hits"` becomes `cache_hits`, `"5xx"` becomes `metric_5xx`). Two names
//! that become the same name share one instrument.
//!
//! # Descriptions and units
//!
//! `describe_counter!`, `describe_gauge!` and `describe_histogram!` give the instrument its
//! description and unit, the unit in UCUM as OTLP expects:
//!
//! | `metrics::Unit` | UCUM |
//! |---|---|
//! | `Count` | `1` |
//! | `Percent` | `%` |
//! | `Seconds`, `Milliseconds`, `Microseconds`, `Nanoseconds` | `s`, `ms`, `us`, `ns` |
//! | `Bytes`, `Kibibytes`, `Mebibytes`, `Gibibytes`, `Tebibytes` | `By`, `KiBy`, `MiBy`, `GiBy`, `TiBy` |
//! | `BitsPerSecond`, `KilobitsPerSecond`, `MegabitsPerSecond`, `GigabitsPerSecond`, `TerabitsPerSecond` | `bit/s`, `kbit/s`, `Mbit/s`, `Gbit/s`, `Tbit/s` |
//! | `CountPerSecond` | `1/s` |
//!
//! A description is applied when the instrument is made, that is when its name is first
//! registered: describe metrics before recording them, at start-up. A description arriving
//! after the instrument was made is ignored (an OTLP instrument's description and unit do not
//! change once it exists).
//!
//! [`OtlpClient`]: otlp_sdk::OtlpClient
#![deny(missing_docs)]

mod handles;
mod names;

use handles::{CounterHandle, GaugeHandle, HistogramHandle};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_sdk::OtlpClient;
use otlp_sdk::metrics::{self as sdk, Meter};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The instrumentation scope of [`OtlpRecorder::new`]'s meter.
pub const DEFAULT_SCOPE: &str = "metrics";

/// A [`metrics::Recorder`] recording into OTLP instruments; see the [crate docs](crate).
pub struct OtlpRecorder {
    meter: Meter,
    counters: Kind<CounterHandle, sdk::Counter<u64>>,
    // Arc'd: the SDK's gauges are not `Clone`.
    gauges: Kind<GaugeHandle, sdk::Gauge<f64>>,
    histograms: Kind<HistogramHandle, sdk::Histogram<f64>>,
}

impl fmt::Debug for OtlpRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpRecorder")
            .field("meter", &self.meter)
            .finish_non_exhaustive()
    }
}

impl OtlpRecorder {
    /// A recorder making its instruments with `client.meter("metrics")` ([`DEFAULT_SCOPE`]).
    pub fn new(client: &OtlpClient) -> OtlpRecorder {
        OtlpRecorder::from_meter(client.meter(DEFAULT_SCOPE))
    }

    /// A recorder making its instruments with `client.meter(scope)`.
    pub fn with_scope(client: &OtlpClient, scope: impl Into<Str>) -> OtlpRecorder {
        OtlpRecorder::from_meter(client.meter(scope))
    }

    /// A recorder making its instruments with `meter`.
    pub fn from_meter(meter: Meter) -> OtlpRecorder {
        OtlpRecorder {
            meter,
            counters: Kind::default(),
            gauges: Kind::default(),
            histograms: Kind::default(),
        }
    }

    /// Makes this the process' global `metrics` recorder, or fails if one is already set.
    pub fn install(self) -> Result<(), InstallError> {
        metrics::set_global_recorder(self).map_err(|_| InstallError(()))
    }
}

/// [`OtlpRecorder::install`] found a global `metrics` recorder already installed (there is one
/// per process, set once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallError(());

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a global `metrics` recorder is already installed")
    }
}

impl std::error::Error for InstallError {}

/// A description given before the instrument was made.
struct Description {
    unit: Option<Unit>,
    text: SharedString,
}

/// `metrics` keys carry their hash: the map uses it as is.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
    fn write(&mut self, bytes: &[u8]) {
        // `Key` only writes its hash (above); anything else still hashes, if poorly.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// What the recorder keeps of one kind of metric: handles per key (series), instruments per
/// name, descriptions per name.
struct Kind<H, I> {
    handles: RwLock<HashMap<Key, Arc<H>, BuildHasherDefault<KeyHasher>>>,
    instruments: Mutex<HashMap<String, I>>,
    descriptions: Mutex<HashMap<String, Description>>,
}

impl<H, I> Default for Kind<H, I> {
    fn default() -> Self {
        Kind {
            handles: RwLock::default(),
            instruments: Mutex::default(),
            descriptions: Mutex::default(),
        }
    }
}

impl<H, I: Clone> Kind<H, I> {
    fn describe(&self, name: &KeyName, unit: Option<Unit>, text: SharedString) {
        let name = names::instrument_name(name.as_str()).into_owned();
        self.descriptions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, Description { unit, text });
    }

    /// The handle of `key`: the one made before (the macros register on every call, so this
    /// is a read lock and a lookup), or a new one on the key's series of the name's
    /// instrument, made on first use with the name's description.
    fn handle(
        &self,
        key: &Key,
        make: impl FnOnce(&str, Option<&Description>) -> I,
        bind: impl FnOnce(&I, Vec<KeyValue>) -> H,
    ) -> Arc<H> {
        if let Some(h) = self
            .handles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return h.clone();
        }
        let mut handles = self.handles.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(h) = handles.get(key) {
            return h.clone();
        }
        let name = names::instrument_name(key.name());
        let instrument = {
            let mut instruments = self
                .instruments
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match instruments.get(name.as_ref()) {
                Some(i) => i.clone(),
                None => {
                    let descriptions = self
                        .descriptions
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    let made = make(&name, descriptions.get(name.as_ref()));
                    instruments.insert(name.into_owned(), made.clone());
                    made
                }
            }
        };
        let attributes = key
            .labels()
            .map(|l| KeyValue::new(l.key().to_owned(), l.value().to_owned()))
            .collect();
        let handle = Arc::new(bind(&instrument, attributes));
        handles.insert(key.clone(), handle.clone());
        handle
    }
}

/// Applies a description to an instrument builder.
macro_rules! described {
    ($builder:expr, $description:expr) => {{
        let mut builder = $builder;
        if let Some(d) = $description {
            builder = builder.with_description(d.text.to_string());
            if let Some(unit) = d.unit {
                builder = builder.with_unit(names::ucum(unit));
            }
        }
        // The name was made valid and the unit is UCUM from a fixed list: the build cannot
        // fail (if it did, the instrument would record nothing rather than panic).
        builder.build()
    }};
}

impl Recorder for OtlpRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.counters.describe(&key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.gauges.describe(&key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.histograms.describe(&key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let handle = self.counters.handle(
            key,
            |name, d| described!(self.meter.u64_counter(name.to_owned()), d),
            |counter, attributes| CounterHandle {
                series: counter.bind(&attributes),
                absolute: AtomicU64::new(0),
            },
        );
        Counter::from_arc(handle)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let handle = self.gauges.handle(
            key,
            |name, d| described!(self.meter.f64_gauge(name.to_owned()), d),
            |gauge, attributes| GaugeHandle {
                series: gauge.bind(&attributes),
                value: AtomicU64::new(0.0f64.to_bits()),
            },
        );
        Gauge::from_arc(handle)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let handle = self.histograms.handle(
            key,
            |name, d| described!(self.meter.f64_histogram(name.to_owned()), d),
            |histogram, attributes| HistogramHandle {
                series: histogram.bind(&attributes),
            },
        );
        Histogram::from_arc(handle)
    }
}
