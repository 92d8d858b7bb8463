//! Reaching the layer's spans from outside a `tracing` callback, through the dispatcher the
//! layer registered with (a nested `get_default` inside a callback would see no dispatcher):
//! to resolve the SDK's deferred frames, and for [`OtlpSpanExt`](crate::OtlpSpanExt).

use crate::{OtelData, OtlpLayer, recorded_context};
use otlp_sdk::context::ResolveSpan;
use otlp_sdk::trace::SpanContext;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::{Mutex, OnceLock, PoisonError};
use tracing::dispatcher::WeakDispatch;
use tracing::span::Id;
use tracing::{Dispatch, Metadata, Subscriber};
use tracing_subscriber::registry::LookupSpan;

/// Runs a function on the layer's data of a span, given the dispatcher and the span's id:
/// `with_data::<S>` for the subscriber `S` under the layer.
pub(crate) type WithData =
    fn(&Dispatch, &Id, &mut dyn FnMut(&mut OtelData, &'static Metadata<'static>));

/// The OTLP context of span `id` in a dispatcher: `lookup::<S>`.
type Lookup = fn(&Dispatch, u64) -> Option<SpanContext>;

/// A layer's registration with its dispatcher; a clone of the layer is not registered yet.
#[derive(Default)]
pub(crate) struct Registered(OnceLock<Registration>);

#[derive(Clone, Copy)]
pub(crate) struct Registration {
    /// What the layer's deferred frames resolve through.
    pub(crate) slot: &'static DispatchSlot,
    pub(crate) with_data: WithData,
}

impl Registered {
    // On every entered span: kept inlinable.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Registration> {
        self.0.get()
    }
}

impl Clone for Registered {
    fn clone(&self) -> Self {
        Registered::default()
    }
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Registered")
            .field(&self.0.get().is_some())
            .finish()
    }
}

/// One dispatcher a layer registered with, weakly, and how to look its spans up. Slots live
/// for the process ([`ResolveSpan`] frames hold them as `&'static`); one whose dispatcher is
/// gone (which no entered span outlives: a span holds its dispatcher) is reused.
#[derive(Default)]
pub(crate) struct DispatchSlot(Mutex<Option<(WeakDispatch, Lookup)>>);

/// Every slot made so far.
static DISPATCHERS: Mutex<Vec<&'static DispatchSlot>> = Mutex::new(Vec::new());

impl ResolveSpan for DispatchSlot {
    fn resolve(&self, id: u64) -> Option<SpanContext> {
        let (dispatch, lookup) = {
            let current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let (weak, lookup) = current.as_ref()?;
            (weak.upgrade()?, *lookup)
        };
        lookup(&dispatch, id)
    }
}

impl DispatchSlot {
    fn is_free(&self) -> bool {
        let current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .is_none_or(|(weak, _)| weak.upgrade().is_none())
    }
}

/// Registers `layer` with `dispatch`, whose subscriber must reach `S` (the subscriber under
/// the layer) through `downcast_ref`; otherwise the layer stays unregistered and enters its
/// spans by value.
pub(crate) fn register<S>(layer: &OtlpLayer, dispatch: &Dispatch)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if dispatch.downcast_ref::<S>().is_none() || layer.registered.get().is_some() {
        return;
    }
    let slot = {
        let mut all = DISPATCHERS.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match all.iter().find(|slot| slot.is_free()) {
            Some(free) => *free,
            None => {
                let slot: &'static DispatchSlot = Box::leak(Box::default());
                all.push(slot);
                slot
            }
        };
        *slot.0.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((dispatch.downgrade(), lookup::<S>));
        slot
    };
    let _ = layer.registered.0.set(Registration {
        slot,
        with_data: with_data::<S>,
    });
}

fn lookup<S>(dispatch: &Dispatch, id: u64) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let subscriber = dispatch.downcast_ref::<S>()?;
    let id = Id::from_non_zero_u64(NonZeroU64::new(id)?);
    recorded_context(&subscriber.span(&id)?)
}

fn with_data<S>(
    dispatch: &Dispatch,
    id: &Id,
    f: &mut dyn FnMut(&mut OtelData, &'static Metadata<'static>),
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return;
    };
    let metadata = span.metadata();
    if let Some(data) = span.extensions_mut().get_mut::<OtelData>() {
        f(data, metadata);
    }
}
