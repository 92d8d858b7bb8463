//! The signal slot under a real signal handler: a `SIGPROF` handler, sent again and again to
//! a thread that pushes and pops contexts every way the stack changes, reads the current span
//! ids from the slot; every reading must be whole (a span id that belongs with its trace id)
//! and one of the values the slot could hold at that instant.
#![cfg(target_os = "linux")]

use otlp::context::{ResolveSpan, attach_deferred, current_span_ids, track_current_span};
use otlp::trace::propagation::{Baggage, Context};
use otlp::trace::{FutureExt, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// The second half of every trace id the test makes.
const MAGIC: [u8; 8] = *b"sigslot!";

/// Span `k`: its span id is `k`, and so are the first 8 bytes of its trace id.
fn span(k: u64) -> SpanContext {
    let mut trace = [0; 16];
    trace[..8].copy_from_slice(&k.to_le_bytes());
    trace[8..].copy_from_slice(&MAGIC);
    SpanContext::new(
        TraceId::from_bytes(trace),
        SpanId::from_bytes(k.to_le_bytes()),
        TraceFlags::SAMPLED,
        false,
        TraceState::empty(),
    )
}

/// The values the slot may hold right now (0: none): the writer widens the window to the next
/// value before a push or pop, and narrows it after.
static FROM: AtomicU64 = AtomicU64::new(0);
static TO: AtomicU64 = AtomicU64::new(0);

static SAMPLES: AtomicUsize = AtomicUsize::new(0);
static WITH_SPAN: AtomicUsize = AtomicUsize::new(0);
static TORN: AtomicUsize = AtomicUsize::new(0);
static NOT_CURRENT: AtomicUsize = AtomicUsize::new(0);
/// The first readings (span numbers), for the message of a failure.
static SEEN: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
static BAD: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_sigprof(_signal: libc::c_int) {
    // Only atomics and the slot: async-signal-safe.
    let n = SAMPLES.fetch_add(1, SeqCst);
    let observed = match current_span_ids() {
        None => 0,
        Some(ids) => {
            WITH_SPAN.fetch_add(1, SeqCst);
            let trace = ids.trace_id.to_bytes();
            let span = ids.span_id.to_bytes();
            if trace[..8] != span || trace[8..] != MAGIC || !ids.trace_flags.is_sampled() {
                TORN.fetch_add(1, SeqCst);
                BAD.store(u64::from_le_bytes(span), SeqCst);
                return;
            }
            u64::from_le_bytes(span)
        }
    };
    if let Some(slot) = SEEN.get(n) {
        slot.store(observed, SeqCst);
    }
    if observed != FROM.load(SeqCst) && observed != TO.load(SeqCst) {
        NOT_CURRENT.fetch_add(1, SeqCst);
        BAD.store(observed, SeqCst);
    }
}

/// Runs `change`, which moves the slot from the current value to `to`.
fn change<T>(to: u64, change: impl FnOnce() -> T) -> T {
    TO.store(to, SeqCst);
    let out = change();
    FROM.store(to, SeqCst);
    out
}

struct Numbers;

impl ResolveSpan for Numbers {
    fn resolve(&self, id: u64) -> Option<SpanContext> {
        Some(span(id))
    }
}

static NUMBERS: Numbers = Numbers;

/// One round of pushes and pops, spans `k` to `k + 3`, ending with nothing current.
fn round(k: u64) {
    let mut baggage = Baggage::new();
    baggage.insert("round", "x");
    let outer = change(k, || span(k).attach());
    let inner = change(k + 1, || {
        Context::new(span(k + 1), baggage.clone()).attach()
    });
    let kept = Baggage::new().attach(); // keeps the span: the value stays
    let deferred = change(k + 2, || attach_deferred(&NUMBERS, k + 2));
    // A future carrying a context: current during its poll, restored after.
    TO.store(k + 3, SeqCst);
    let mut future = pin!(std::future::ready(()).with_context(span(k + 3)));
    let polled = future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(Waker::noop()));
    assert!(matches!(polled, Poll::Ready(())));
    TO.store(k + 2, SeqCst);
    change(k + 1, || drop(deferred));
    drop(kept);
    change(k, || drop(inner));
    change(0, || drop(outer));
}

#[test]
#[allow(unsafe_code)]
fn a_signal_handler_reads_whole_current_values() {
    let _tracking = track_current_span();
    // SAFETY: the handler only touches atomics and the thread-local slot of atomics, which is
    // async-signal-safe; `action` is a zeroed (valid) sigaction whose mask is then emptied.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigprof as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()),
            0
        );
    }
    // SAFETY: pthread_self has no preconditions.
    let target = unsafe { libc::pthread_self() } as usize;
    static STOP: AtomicBool = AtomicBool::new(false);
    let sender = std::thread::spawn(move || {
        let mut sent = 0u64;
        while !STOP.load(SeqCst) {
            // SAFETY: `target` is the test's thread, alive until STOP is set and this thread
            // joined; SIGPROF has the handler above.
            let rc = unsafe { libc::pthread_kill(target as libc::pthread_t, libc::SIGPROF) };
            assert_eq!(rc, 0);
            sent += 1;
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        sent
    });
    let start = Instant::now();
    let mut k = 1;
    // At least 2 s and 1,000 samples: on a loaded machine this thread runs seldom and the
    // signals sent meanwhile coalesce into few; the deadline only bounds a broken handler.
    let enough = || {
        let elapsed = start.elapsed();
        let samples = SAMPLES.load(SeqCst);
        samples >= 200_000
            || (elapsed >= Duration::from_secs(2) && samples >= 1_000)
            || elapsed >= Duration::from_secs(60)
    };
    while !enough() {
        for _ in 0..64 {
            round(k);
            k += 4;
        }
    }
    STOP.store(true, SeqCst);
    let sent = sender.join().expect("sender");
    // SAFETY: as above; signals still pending are then ignored rather than fatal.
    unsafe {
        libc::signal(libc::SIGPROF, libc::SIG_IGN);
    }
    let samples = SAMPLES.load(SeqCst);
    let seen: Vec<u64> = SEEN.iter().take(32).map(|s| s.load(SeqCst)).collect();
    let summary = format!(
        "{sent} signals sent, {samples} samples, {} with a span, {} torn, {} not current \
         (last bad {}), {k} spans pushed; first readings {seen:?}",
        WITH_SPAN.load(SeqCst),
        TORN.load(SeqCst),
        NOT_CURRENT.load(SeqCst),
        BAD.load(SeqCst),
    );
    println!("{summary}");
    assert!(samples >= 1_000, "too few samples: {summary}");
    assert!(
        WITH_SPAN.load(SeqCst) >= samples / 4,
        "the slot does not follow the stack: {summary}"
    );
    assert_eq!(TORN.load(SeqCst), 0, "{summary}");
    assert_eq!(NOT_CURRENT.load(SeqCst), 0, "{summary}");
    assert!(SEEN.iter().all(|s| s.load(SeqCst) < k), "{summary}");
}
