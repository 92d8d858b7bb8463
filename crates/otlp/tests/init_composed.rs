//! `otlp::Init` with a `tracing` subscriber of the program's own: a subscriber already set
//! makes the default set-up fail, naming the way out, and leaves the process as it was; the
//! guard's layer then goes into the program's registry beside its own layers.

use otlp::{ClientConfig, Init, InitErrorKind, Protocol};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use test_support::client::{Exported, exporter_config, receiver_for};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

/// A layer of the program's own: counts the spans it sees.
struct Counting(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for Counting {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn the_layer_joins_the_programs_own_subscriber() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (receiver, sink, _) = runtime.block_on(receiver_for("http/protobuf"));
    let config = || {
        ClientConfig::new()
            .with_exporter(exporter_config(&receiver, Protocol::HttpProtobuf))
            .with_resource_detection(false)
    };

    let seen = Arc::new(AtomicUsize::new(0));

    // The program set its global subscriber first; the default set-up is then refused
    // before anything is set.
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(Counting(seen.clone())),
    )
    .expect("the program's subscriber");
    let err = otlp::init_with(config()).expect_err("a subscriber is already set");
    assert_eq!(err.kind(), InitErrorKind::TracingSubscriber);
    assert!(
        err.to_string().contains("with_tracing_subscriber(false)"),
        "names the way out: {err}"
    );
    assert!(otlp::global::client().is_none(), "nothing was set");

    // Without the subscriber, the set-up succeeds (the failed call left nothing behind), and
    // the guard's layer goes into a subscriber of the program's.
    let guard = Init::new()
        .with_config(config())
        .with_tracing_subscriber(false)
        .with_scope("shop")
        .install()
        .expect("initialized");
    let composed = tracing_subscriber::registry()
        .with(Counting(seen.clone()))
        .with(guard.tracing_layer());
    tracing::subscriber::with_default(composed, || {
        let _span = tracing::info_span!("composed").entered();
    });
    assert!(
        seen.load(Ordering::Relaxed) >= 1,
        "the program's layer ran too"
    );
    drop(guard);

    let got = Exported::of(sink.requests().into_iter().map(|r| r.request));
    let span = got
        .spans
        .iter()
        .find(|s| s.item.name == "composed")
        .expect("exported through the program's subscriber");
    assert_eq!(span.scope.as_ref().map(|s| &*s.name), Some("shop"));
}
