//! A span the sampler dropped allocates nothing: checked with a counting allocator.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use otlp::trace::{Sampler, SpanContext, SpanLimits, Status, Tracer};
use otlp::{ClientConfig, ExporterConfig, OtlpClient};
use otlp_proto::resource::Resource;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

fn exercise(tracer: &Tracer) {
    let mut span = tracer
        .span_builder("op")
        .with_parent(&SpanContext::INVALID)
        .start();
    assert!(!span.is_recording());
    span.set_attribute("k", 1i64);
    span.set_attribute("s", "static");
    span.add_event("e", Vec::new());
    span.set_status(Status::Ok);
    span.update_name("renamed");
    {
        let _guard = span.enter();
        let mut child = tracer.start("child");
        child.set_attribute("k", true);
    }
    span.end();
}

#[test]
fn unsampled_spans_allocate_nothing() {
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::default())
            .with_resource(Resource::default())
            .with_sampler(Sampler::AlwaysOff)
            .with_span_limits(SpanLimits::default())
            .with_traces_pipeline(otlp::pipeline::AdaptiveBatchConfig::default()),
    )
    .expect("client");
    let tracer = client.tracer("alloc");
    // Warm up this thread's id generator and context stack.
    exercise(&tracer);
    assert_eq!(allocations_in(|| exercise(&tracer)), 0);
    let noop = Tracer::noop();
    exercise(&noop);
    assert_eq!(allocations_in(|| exercise(&noop)), 0);
}

#[test]
fn entering_spans_under_baggage_allocates_nothing() {
    let mut baggage = otlp::trace::propagation::Baggage::new();
    assert!(baggage.insert("tenant", "acme"));
    let _current = baggage.clone().attach();
    let noop = Tracer::noop();
    // Warm up this thread's id generator and context stack.
    exercise(&noop);
    assert_eq!(allocations_in(|| exercise(&noop)), 0);
    assert_eq!(otlp::trace::propagation::Baggage::current(), baggage);
}
