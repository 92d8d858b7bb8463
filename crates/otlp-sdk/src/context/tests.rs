use super::*;
use crate::trace::{SpanId, TraceFlags, TraceId, TraceState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Tracking is process-wide: the tests that track, and those that count lookups (which
/// tracking adds), take turns.
static TRACKING: Mutex<()> = Mutex::new(());

fn ctx(n: u8) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes([n; 16]),
        SpanId::from_bytes([n; 8]),
        TraceFlags::SAMPLED,
        false,
        TraceState::empty(),
    )
}

fn ids(n: u8) -> Option<SpanIds> {
    SpanIds::of(&ctx(n))
}

/// Even ids have a context (built from the id and the source's offset), odd ones none.
struct Source {
    offset: u64,
    lookups: AtomicUsize,
}

impl ResolveSpan for Source {
    fn resolve(&self, id: u64) -> Option<SpanContext> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        id.is_multiple_of(2).then(|| ctx((id + self.offset) as u8))
    }
}

#[test]
fn nesting() {
    assert_eq!(SpanContext::current(), SpanContext::INVALID);
    let a = ctx(1).attach();
    {
        let _b = ctx(2).attach();
        assert_eq!(SpanContext::current(), ctx(2));
        let _hide = SpanContext::INVALID.attach();
        assert!(current_parent().is_none());
    }
    assert_eq!(SpanContext::current(), ctx(1));
    drop(a);
    assert_eq!(SpanContext::current(), SpanContext::INVALID);
}

#[test]
fn deferred_frames_are_looked_up_only_when_asked_and_passed_over_when_empty() {
    let _turn = TRACKING.lock().unwrap_or_else(PoisonError::into_inner);
    static ONE: Source = Source {
        offset: 1,
        lookups: AtomicUsize::new(0),
    };
    static ZERO: Source = Source {
        offset: 0,
        lookups: AtomicUsize::new(0),
    };
    let outer = ctx(1).attach();
    let with = attach_deferred(&ONE, 4);
    assert_eq!(
        ONE.lookups.load(Ordering::SeqCst),
        0,
        "entering looks nothing up"
    );
    assert_eq!(SpanContext::current(), ctx(5));
    assert_eq!(current_parent(), Some(ctx(5)));
    let without = attach_deferred(&ZERO, 3);
    assert_eq!(
        current_parent(),
        Some(ctx(5)),
        "an empty frame is passed over"
    );
    drop((without, with));
    assert_eq!(current_parent(), Some(ctx(1)));
    let empty = attach_deferred(&ZERO, 7);
    assert_eq!(current_parent(), Some(ctx(1)));
    drop(outer);
    drop(empty);
    assert!(current_parent().is_none());
    let _only_empty = attach_deferred(&ZERO, 9);
    assert!(current_parent().is_none());
    assert_eq!(SpanContext::current(), SpanContext::INVALID);
}

#[test]
fn the_implicit_parent_follows_every_way_the_stack_changes() {
    assert!(current_parent().is_none());
    let outer = ctx(1).attach();
    assert_eq!(current_parent(), Some(ctx(1)));
    let inner = PropagatedContext::new(ctx(2), Baggage::new()).attach();
    assert_eq!(current_parent(), Some(ctx(2)));
    // The outer guard dropped first ends the inner context too.
    drop(outer);
    assert!(current_parent().is_none());
    drop(inner);
    assert!(current_parent().is_none());
    let _again = Baggage::new().attach();
    assert!(
        current_parent().is_none(),
        "an invalid span context is no parent"
    );
    let _span = ctx(3).attach();
    assert_eq!(current_parent(), Some(ctx(3)));
}

#[test]
fn baggage_is_part_of_the_current_context() {
    let mut baggage = Baggage::new();
    assert!(baggage.insert("tenant", "acme"));
    let outer = PropagatedContext::new(ctx(1), baggage.clone()).attach();
    assert_eq!(Baggage::current(), baggage);
    assert_eq!(SpanContext::current(), ctx(1));
    {
        // Entering a span keeps the baggage.
        let _span = ctx(2).attach();
        assert_eq!(Baggage::current(), baggage);
        assert_eq!(PropagatedContext::current().span, ctx(2));
        // Attaching other baggage keeps the span.
        let mut other = Baggage::new();
        assert!(other.insert("k", "v"));
        let _b = other.clone().attach();
        assert_eq!(
            PropagatedContext::current(),
            PropagatedContext::new(ctx(2), other)
        );
    }
    assert_eq!(
        PropagatedContext::current(),
        PropagatedContext::new(ctx(1), baggage)
    );
    drop(outer);
    assert!(Baggage::current().is_empty());
    assert_eq!(PropagatedContext::current(), PropagatedContext::default());
}

#[test]
fn futures_carry_baggage() {
    let mut baggage = Baggage::new();
    assert!(baggage.insert("k", "v"));
    let fut = {
        let _g = PropagatedContext::new(ctx(3), baggage.clone()).attach();
        async { (SpanContext::current(), Baggage::current()) }.in_current_context()
    };
    assert!(Baggage::current().is_empty());
    let (span, got) = crate::blocking::block_on(fut);
    assert_eq!((span, got), (ctx(3), baggage));
}

#[test]
fn the_signal_slot_follows_pushes_and_pops_while_tracked() {
    let _turn = TRACKING.lock().unwrap_or_else(PoisonError::into_inner);
    let before = ctx(9).attach();
    let tracking = track_current_span();
    assert_eq!(
        current_span_ids(),
        ids(9),
        "the caller's slot is current at once"
    );
    drop(before);
    assert_eq!(current_span_ids(), None);
    let outer = ctx(1).attach();
    assert_eq!(current_span_ids(), ids(1));
    {
        let _inner = PropagatedContext::new(ctx(2), Baggage::new()).attach();
        assert_eq!(current_span_ids(), ids(2));
        let _hide = SpanContext::INVALID.attach();
        assert_eq!(
            current_span_ids(),
            None,
            "an invalid context hides the span"
        );
        let _baggage = Baggage::new().attach();
        assert_eq!(current_span_ids(), None);
    }
    assert_eq!(current_span_ids(), ids(1), "a pop restores the outer span");
    // Futures: the slot follows each poll, and is restored after it.
    let seen = crate::blocking::block_on(async { current_span_ids() }.with_context(ctx(3)));
    assert_eq!(seen, ids(3));
    assert_eq!(current_span_ids(), ids(1));
    drop(outer);
    assert_eq!(current_span_ids(), None);
    drop(tracking);
    // Untracked, the slot is left as it was.
    let _untracked = ctx(4).attach();
    assert_eq!(current_span_ids(), None);
}

#[test]
fn deferred_frames_are_resolved_at_push_while_tracked() {
    let _turn = TRACKING.lock().unwrap_or_else(PoisonError::into_inner);
    static SOURCE: Source = Source {
        offset: 1,
        lookups: AtomicUsize::new(0),
    };
    // Pushed before tracking: unknown to the slot until a pop reaches it.
    let early = attach_deferred(&SOURCE, 2);
    let tracking = track_current_span();
    assert_eq!(current_span_ids(), ids(3));
    let outer = ctx(1).attach();
    let lookups = SOURCE.lookups.load(Ordering::SeqCst);
    let with = attach_deferred(&SOURCE, 4);
    assert_eq!(current_span_ids(), ids(5));
    assert_eq!(
        SOURCE.lookups.load(Ordering::SeqCst),
        lookups + 1,
        "one lookup, at push"
    );
    let without = attach_deferred(&SOURCE, 7);
    assert_eq!(current_span_ids(), ids(5), "an empty frame is passed over");
    drop(without);
    assert_eq!(current_span_ids(), ids(5));
    assert_eq!(
        SOURCE.lookups.load(Ordering::SeqCst),
        lookups + 2,
        "a pop to a frame resolved at its push looks nothing up"
    );
    drop(with);
    assert_eq!(current_span_ids(), ids(1));
    drop(outer);
    assert_eq!(
        current_span_ids(),
        ids(3),
        "looked up at the pop that reaches it"
    );
    drop(early);
    assert_eq!(current_span_ids(), None);
    drop(tracking);
}
