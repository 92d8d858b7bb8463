//! Sampling: which spans are recorded and exported.

use super::context::{SpanContext, TraceState};
use super::id::TraceId;
use super::span::Link;
use crate::Error;
use otlp_proto::common::KeyValue;
use otlp_proto::trace::SpanKind;
use std::fmt;
use std::sync::Arc;

/// What a sampler decided for a new span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Not recorded, not exported: the span does nothing.
    Drop,
    /// Recorded (its operations take effect) but not sampled, so not exported.
    RecordOnly,
    /// Recorded, sampled and exported.
    RecordAndSample,
}

impl SamplingDecision {
    /// Whether the span records its operations.
    pub fn is_recording(self) -> bool {
        !matches!(self, SamplingDecision::Drop)
    }

    /// Whether the span is sampled (and so exported).
    pub fn is_sampled(self) -> bool {
        matches!(self, SamplingDecision::RecordAndSample)
    }
}

/// The built-in samplers of the specification.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampler {
    /// Samples every span.
    AlwaysOn,
    /// Samples no span.
    AlwaysOff,
    /// Samples the given fraction (0.0 to 1.0) of traces, deciding on the trace id alone, so every
    /// service with the same ratio takes the same decision for a trace.
    TraceIdRatioBased(f64),
    /// Follows the parent's sampled flag, and uses `root` for spans without a parent.
    ParentBased {
        /// For spans without a (valid) parent.
        root: Box<Sampler>,
        /// Remote parent, sampled. Default `AlwaysOn`.
        remote_parent_sampled: Box<Sampler>,
        /// Remote parent, not sampled. Default `AlwaysOff`.
        remote_parent_not_sampled: Box<Sampler>,
        /// Local parent, sampled. Default `AlwaysOn`.
        local_parent_sampled: Box<Sampler>,
        /// Local parent, not sampled. Default `AlwaysOff`.
        local_parent_not_sampled: Box<Sampler>,
    },
    /// A sampler of your own ([`Sampler::custom`]).
    Custom(CustomSampler),
}

/// What a sampler sees of a span about to start (the specification's `ShouldSample`
/// arguments).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SamplingParams<'a> {
    /// The parent's context, `None` for a root span.
    pub parent: Option<&'a SpanContext>,
    /// The trace id the span will have.
    pub trace_id: TraceId,
    /// The span's name.
    pub name: &'a str,
    /// The span's kind.
    pub kind: SpanKind,
    /// The attributes given to the span builder (in the order given, duplicates included).
    pub attributes: &'a [KeyValue],
    /// The links given to the span builder.
    pub links: &'a [Link],
}

/// A sampler's answer: the decision, attributes to add to the span, and the trace state the
/// span gets (`None`: the parent's).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingResult {
    /// Whether the span records and is exported.
    pub decision: SamplingDecision,
    /// Attributes added to the span when it records.
    pub attributes: Vec<KeyValue>,
    /// The new span's trace state; `None` keeps the parent's.
    pub trace_state: Option<TraceState>,
}

impl From<SamplingDecision> for SamplingResult {
    fn from(decision: SamplingDecision) -> Self {
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: None,
        }
    }
}

/// A sampler of your own: decides from everything known about a span at its start.
///
/// ```
/// use otlp::trace::{Sampler, SamplingDecision, SamplingParams, SamplingResult, ShouldSample};
///
/// /// Keeps every span of the checkout path, and 1 in 10 traces otherwise.
/// #[derive(Debug)]
/// struct Checkout;
///
/// impl ShouldSample for Checkout {
///     fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
///         if params.name.starts_with("checkout") {
///             return SamplingDecision::RecordAndSample.into();
///         }
///         Sampler::TraceIdRatioBased(0.1).sample(params)
///     }
/// }
///
/// let sampler = Sampler::parent_based(Sampler::custom(Checkout));
/// # let _ = sampler;
/// ```
pub trait ShouldSample: fmt::Debug + Send + Sync + 'static {
    /// The decision for a new span. Called on the application thread for every span started
    /// (not for those whose parent decides under [`Sampler::ParentBased`]): keep it cheap.
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult;

    /// A description, for diagnostics (the specification's `GetDescription`).
    fn description(&self) -> String {
        format!("{self:?}")
    }
}

/// A [`ShouldSample`] in a [`Sampler`]; two are equal when they are the same instance.
#[derive(Clone)]
pub struct CustomSampler(Arc<dyn ShouldSample>);

impl fmt::Debug for CustomSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.description())
    }
}

impl PartialEq for CustomSampler {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Default for Sampler {
    /// `ParentBased` with an `AlwaysOn` root: the specification's default.
    fn default() -> Self {
        Sampler::parent_based(Sampler::AlwaysOn)
    }
}

impl Sampler {
    /// `ParentBased` with this root and the default delegates (follow the parent's flag).
    pub fn parent_based(root: Sampler) -> Sampler {
        Sampler::ParentBased {
            root: Box::new(root),
            remote_parent_sampled: Box::new(Sampler::AlwaysOn),
            remote_parent_not_sampled: Box::new(Sampler::AlwaysOff),
            local_parent_sampled: Box::new(Sampler::AlwaysOn),
            local_parent_not_sampled: Box::new(Sampler::AlwaysOff),
        }
    }

    /// A sampler of your own.
    pub fn custom(sampler: impl ShouldSample) -> Sampler {
        Sampler::Custom(CustomSampler(Arc::new(sampler)))
    }

    /// Whether no span can ever record under this sampler, whatever its parent.
    pub(crate) fn never_records(&self) -> bool {
        matches!(self, Sampler::AlwaysOff)
    }

    /// The decision for a new span in trace `trace_id` whose parent is `parent` (`None`, or an
    /// invalid context, for a root span). A custom sampler sees an empty name and no
    /// attributes here; [`Sampler::sample`] gives it everything.
    pub fn should_sample(
        &self,
        parent: Option<&SpanContext>,
        trace_id: TraceId,
    ) -> SamplingDecision {
        self.sample(&SamplingParams {
            parent,
            trace_id,
            name: "",
            kind: SpanKind::Internal,
            attributes: &[],
            links: &[],
        })
        .decision
    }

    /// The full answer for a new span.
    pub fn sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
        match self.decider(params.parent) {
            Sampler::Custom(custom) => custom.0.should_sample(params),
            leaf => leaf.leaf_decision(params.trace_id).into(),
        }
    }

    /// The decision when a built-in sampler makes it: those need only the parent and the
    /// trace id, and add no attributes or trace state. `None` when a custom sampler decides
    /// (it gets everything through [`Sampler::sample`]). The tracer's fast path.
    #[inline]
    pub(crate) fn builtin_decision(
        &self,
        parent: Option<&SpanContext>,
        trace_id: TraceId,
    ) -> Option<SamplingDecision> {
        match self.decider(parent) {
            Sampler::Custom(_) => None,
            leaf => Some(leaf.leaf_decision(trace_id)),
        }
    }

    /// The sampler that decides for a span with this parent: `self`, or for `ParentBased`
    /// the delegate the parent selects, followed down to one that is not `ParentBased`.
    #[inline]
    fn decider(&self, parent: Option<&SpanContext>) -> &Sampler {
        match self {
            Sampler::ParentBased {
                root,
                remote_parent_sampled,
                remote_parent_not_sampled,
                local_parent_sampled,
                local_parent_not_sampled,
            } => {
                let delegate = match parent.filter(|p| p.is_valid()) {
                    None => root,
                    Some(p) => match (p.is_remote(), p.is_sampled()) {
                        (true, true) => remote_parent_sampled,
                        (true, false) => remote_parent_not_sampled,
                        (false, true) => local_parent_sampled,
                        (false, false) => local_parent_not_sampled,
                    },
                };
                delegate.decider(parent)
            }
            leaf => leaf,
        }
    }

    /// The decision of a built-in sampler that [`Sampler::decider`] returned.
    #[inline]
    fn leaf_decision(&self, trace_id: TraceId) -> SamplingDecision {
        match self {
            Sampler::AlwaysOn => SamplingDecision::RecordAndSample,
            Sampler::TraceIdRatioBased(ratio) if ratio_samples(*ratio, trace_id) => {
                SamplingDecision::RecordAndSample
            }
            // Not sampled by ratio; `ParentBased` and custom samplers never get here (the
            // first is resolved by `decider`, the second decided by its own code).
            Sampler::AlwaysOff
            | Sampler::TraceIdRatioBased(_)
            | Sampler::ParentBased { .. }
            | Sampler::Custom(_) => SamplingDecision::Drop,
        }
    }

    /// The sampler named by `OTEL_TRACES_SAMPLER` (argument in `OTEL_TRACES_SAMPLER_ARG`), with the
    /// variables looked up through `lookup` (`|k| std::env::var(k).ok()` for the process
    /// environment). Unset gives the default, `parentbased_always_on`; an unknown name, or a
    /// ratio that is not a number between 0 and 1, is an error naming the variable. A missing
    /// ratio is 1.0.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Sampler, Error> {
        const NAME: &str = "OTEL_TRACES_SAMPLER";
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let Some(name) = get(NAME) else {
            return Ok(Sampler::default());
        };
        let ratio = || -> Result<f64, Error> {
            match get(ARG) {
                None => Ok(1.0),
                Some(arg) => arg
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .ok_or_else(|| Error::env(ARG, &arg, "expected a ratio between 0 and 1")),
            }
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" => Sampler::parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => Sampler::parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => {
                Sampler::parent_based(Sampler::TraceIdRatioBased(ratio()?))
            }
            _ => {
                return Err(Error::env(
                    NAME,
                    &name,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                ));
            }
        })
    }
}

/// The ratio decision: the low 8 bytes of the trace id, read as a big-endian `u64`, are below
/// `ratio * 2^64`. Ratios at or above 1 sample everything, at or below 0 (or NaN) nothing.
fn ratio_samples(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    // `as` saturates; ratio < 1 keeps the product below 2^64.
    let threshold = (ratio * 18_446_744_073_709_551_616.0) as u64;
    u64::from_be_bytes(low) < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::context::{TraceFlags, TraceState};
    use crate::trace::id::SpanId;

    fn parent(remote: bool, sampled: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes([2; 8]),
            TraceFlags::NONE.with_sampled(sampled),
            remote,
            TraceState::empty(),
        )
    }

    #[test]
    fn parent_based_branches() {
        use SamplingDecision::{Drop, RecordAndSample};
        // Delegates that are told apart by their answer.
        let sampler = Sampler::ParentBased {
            root: Box::new(Sampler::AlwaysOff),
            remote_parent_sampled: Box::new(Sampler::AlwaysOn),
            remote_parent_not_sampled: Box::new(Sampler::TraceIdRatioBased(1.0)),
            local_parent_sampled: Box::new(Sampler::AlwaysOff),
            local_parent_not_sampled: Box::new(Sampler::AlwaysOn),
        };
        let id = TraceId::from_bytes([1; 16]);
        assert_eq!(sampler.should_sample(None, id), Drop);
        assert_eq!(sampler.should_sample(Some(&SpanContext::INVALID), id), Drop);
        assert_eq!(
            sampler.should_sample(Some(&parent(true, true)), id),
            RecordAndSample
        );
        assert_eq!(
            sampler.should_sample(Some(&parent(true, false)), id),
            RecordAndSample
        );
        assert_eq!(sampler.should_sample(Some(&parent(false, true)), id), Drop);
        assert_eq!(
            sampler.should_sample(Some(&parent(false, false)), id),
            RecordAndSample
        );

        let default = Sampler::default();
        assert_eq!(default.should_sample(None, id), RecordAndSample);
        assert_eq!(
            default.should_sample(Some(&parent(true, true)), id),
            RecordAndSample
        );
        assert_eq!(default.should_sample(Some(&parent(true, false)), id), Drop);
        assert_eq!(
            default.should_sample(Some(&parent(false, true)), id),
            RecordAndSample
        );
        assert_eq!(default.should_sample(Some(&parent(false, false)), id), Drop);
    }

    #[test]
    fn ratio_is_statistically_right() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let sampler = Sampler::TraceIdRatioBased(0.25);
        let n = 100_000;
        let sampled = (0..n)
            .filter(|_| {
                let id = TraceId::from_bytes(rng.u128(..).to_be_bytes());
                sampler.should_sample(None, id).is_sampled()
            })
            .count();
        let fraction = sampled as f64 / n as f64;
        assert!((fraction - 0.25).abs() < 0.01, "{fraction}");
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_answer() {
        #[derive(Debug)]
        struct Named;
        impl ShouldSample for Named {
            fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
                if params.name == "keep" {
                    SamplingDecision::RecordAndSample.into()
                } else {
                    SamplingDecision::Drop.into()
                }
            }
        }
        let samplers = [
            Sampler::AlwaysOn,
            Sampler::AlwaysOff,
            Sampler::TraceIdRatioBased(0.5),
            Sampler::default(),
            Sampler::parent_based(Sampler::AlwaysOff),
            Sampler::parent_based(Sampler::TraceIdRatioBased(0.5)),
            Sampler::ParentBased {
                root: Box::new(Sampler::AlwaysOn),
                remote_parent_sampled: Box::new(Sampler::AlwaysOff),
                remote_parent_not_sampled: Box::new(Sampler::AlwaysOn),
                local_parent_sampled: Box::new(Sampler::parent_based(Sampler::AlwaysOff)),
                local_parent_not_sampled: Box::new(Sampler::TraceIdRatioBased(1.0)),
            },
        ];
        let parents = [
            None,
            Some(SpanContext::INVALID),
            Some(parent(true, true)),
            Some(parent(true, false)),
            Some(parent(false, true)),
            Some(parent(false, false)),
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for sampler in &samplers {
            for p in &parents {
                for _ in 0..50 {
                    let id = TraceId::from_bytes(rng.u128(..).to_be_bytes());
                    let params = SamplingParams {
                        parent: p.as_ref(),
                        trace_id: id,
                        name: "op",
                        kind: SpanKind::Internal,
                        attributes: &[],
                        links: &[],
                    };
                    assert_eq!(
                        sampler.builtin_decision(p.as_ref(), id),
                        Some(sampler.sample(&params).decision),
                        "{sampler:?} under {p:?}"
                    );
                }
            }
        }
        // A custom sampler, alone or as a delegate, is left to the full path (it reads the name).
        let custom = Sampler::parent_based(Sampler::custom(Named));
        let id = TraceId::from_bytes([3; 16]);
        assert_eq!(custom.builtin_decision(None, id), None);
        let sampled_parent = parent(false, true);
        assert_eq!(
            custom.builtin_decision(Some(&sampled_parent), id),
            Some(SamplingDecision::RecordAndSample),
            "a parent decides without the custom root"
        );
        let params = |name| SamplingParams {
            parent: None,
            trace_id: id,
            name,
            kind: SpanKind::Internal,
            attributes: &[],
            links: &[],
        };
        assert_eq!(
            custom.sample(&params("keep")).decision,
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            custom.sample(&params("other")).decision,
            SamplingDecision::Drop
        );
    }

    #[test]
    fn ratio_edges_and_consistency() {
        let id = TraceId::from_bytes([0xff; 16]);
        assert!(ratio_samples(1.0, id));
        assert!(!ratio_samples(0.0, TraceId::from_bytes([0; 16])));
        assert!(!ratio_samples(0.999, id));
        let low = TraceId::from_bytes([0; 16]);
        assert!(ratio_samples(0.001, low));
        // A lower ratio samples a subset of what a higher ratio samples.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..1000 {
            let id = TraceId::from_bytes(rng.u128(..).to_be_bytes());
            if ratio_samples(0.1, id) {
                assert!(ratio_samples(0.5, id));
            }
        }
    }

    #[test]
    fn from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Sampler::from_env(env(&[])).expect("ok"), Sampler::default());
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "always_off")])).expect("ok"),
            Sampler::AlwaysOff
        );
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "always_on")])).expect("ok"),
            Sampler::AlwaysOn
        );
        assert_eq!(
            Sampler::from_env(env(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.5")
            ]))
            .expect("ok"),
            Sampler::TraceIdRatioBased(0.5)
        );
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")]))
                .expect("ok"),
            Sampler::parent_based(Sampler::TraceIdRatioBased(1.0))
        );
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "parentbased_always_off")]))
                .expect("ok"),
            Sampler::parent_based(Sampler::AlwaysOff)
        );
        assert_eq!(
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "parentbased_always_on")]))
                .expect("ok"),
            Sampler::default()
        );
        let err =
            Sampler::from_env(env(&[("OTEL_TRACES_SAMPLER", "sometimes")])).expect_err("unknown");
        assert!(err.is_config() && err.to_string().contains("OTEL_TRACES_SAMPLER"));
        for bad in ["x", "1.5", "-0.1"] {
            let pairs: &'static [(&'static str, &'static str)] = match bad {
                "x" => &[
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "x"),
                ],
                "1.5" => &[
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ],
                _ => &[
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "-0.1"),
                ],
            };
            let err = Sampler::from_env(env(pairs)).expect_err("bad ratio");
            assert!(err.to_string().contains("OTEL_TRACES_SAMPLER_ARG"), "{err}");
        }
    }
}
