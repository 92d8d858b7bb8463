//! A [`tracing`] layer that records `tracing` spans as OTLP spans through an
//! [`otlp_sdk::trace::Tracer`], and `tracing` events as span events or as OTLP log records
//! correlated with those spans; events with `monotonic_counter.*`, `counter.*` and
//! `histogram.*` fields record into metric instruments.
//!
//! [`OtlpLayer`] plugs into a [`tracing_subscriber::Registry`] (or any subscriber that implements
//! [`LookupSpan`]):
//!
//! - a new `tracing` span starts an OTLP span named after it, whose parent is the OTLP span of
//!   the nearest `tracing` ancestor the layer recorded, or else [`SpanContext::current`] (so a
//!   context the SDK made current, say one extracted from an incoming request, becomes the
//!   parent). A span created with an explicit `parent: None` is an OTLP root;
//! - its fields become attributes, keeping their type: strings, `i64`, `u64` (as an integer when
//!   it fits in an `i64`, else as a string), `f64`, `bool`, and anything else as its `Debug`
//!   string. Fields recorded later (`Span::record`) are added too. The span also gets the
//!   `level` attribute and, unless [`OtlpLayer::with_location`] turns it off, `code.file.path`
//!   and `code.line.number` (`tracing` does not know the function's name, so
//!   `code.function.name` is not set);
//! - a few fields are instructions instead of attributes: `otel.name` renames the span,
//!   `otel.kind` (`server`, `client`, `producer`, `consumer`, `internal`) sets its kind (only at
//!   creation: a kind cannot change once the span started), `otel.status_code` (`ok`, `error`)
//!   and `otel.status_description` set its status when it closes;
//! - entering the `tracing` span makes its OTLP context current on the thread until it exits,
//!   so spans started with the SDK directly ([`Tracer::start`]) nest under it, and `.instrument`
//!   on a future carries that across `.await` and threads. Once the layer is registered with
//!   its dispatcher (any subscriber reachable through `downcast_ref`, as a [`Registry`] is),
//!   this costs a push: the context is looked up only when something asks for it
//!   ([`otlp_sdk::context::attach_deferred`]);
//! - `follows_from` adds a link; closing the `tracing` span ends the OTLP span;
//! - [`OtlpSpanExt`] on a `tracing::Span` reads its OTLP context and sets what fields cannot:
//!   a remote parent extracted from a request ([`OtlpSpanExt::set_parent`]), links,
//!   attributes, the status;
//! - events: see below, and [events as measurements](#events-as-measurements).
//!
//! [`Registry`]: tracing_subscriber::Registry
//!
//! # Events: span events or log records
//!
//! Each event is exported at most once, in one of two forms ([`EventMode`]):
//!
//! - **log records** ([`EventMode::Logs`]), when the layer has an [`otlp_sdk::logs::Logger`]:
//!   made with [`OtlpLayer::from_client`] (the tracer and the logger of one instrumentation
//!   scope) or with [`OtlpLayer::with_logger`]. The record's severity comes from the level
//!   (`TRACE` 1, `DEBUG` 5, `INFO` 9, `WARN` 13, `ERROR` 17) with the level's name as severity
//!   text; its body is the `message` field; the other fields are typed attributes, as for spans
//!   (no `level` attribute: the severity says it), plus the code location unless
//!   [`OtlpLayer::with_location`] turns it off; its timestamp is the time of the event. It is
//!   correlated with the OTLP span of the event's `tracing` parent (its trace id, span id and
//!   trace flags), or, outside any `tracing` span, with the SDK's current context
//!   ([`SpanContext::current`]); with neither, it is uncorrelated. Events outside spans are
//!   exported too. No span event is added;
//! - **span events** ([`EventMode::SpanEvents`], the default of [`OtlpLayer::new`], which has no
//!   logger): an event inside a span becomes an event of that span's OTLP span, named by its
//!   `message`, with its other fields as attributes. Events outside spans are dropped.
//!
//! [`EventMode::Ignore`] leaves events alone. The choice is made once per layer, so the same
//! event never becomes both a span event and a log record.
//!
//! # Events as measurements
//!
//! Events can record measurements, with the field-name convention `tracing-opentelemetry`'s
//! users know: a field named
//!
//! - `monotonic_counter.<name>` adds its value to the counter `<name>`: a `u64` (or an `i64`
//!   that is not negative) to a `Counter<u64>`, an `f64` to a `Counter<f64>`;
//! - `counter.<name>` adds its value to the up-down counter `<name>`: an `i64` (or a `u64` that
//!   fits one) to an `UpDownCounter<i64>`, an `f64` to an `UpDownCounter<f64>`;
//! - `histogram.<name>` records its value in the histogram `<name>`: a `u64` (or an `i64` that
//!   is not negative) in a `Histogram<u64>`, an `f64` in a `Histogram<f64>`.
//!
//! The event's other fields, but for its `message`, are the measurement's attributes, typed as
//! for spans (no `level` and no code location: series are per attribute set, and those would
//! only multiply them). The instruments belong to the layer's meter: with
//! [`OtlpLayer::from_client`], `client.meter(scope)`, the scope of the layer's spans and log
//! records; otherwise the one given to [`OtlpLayer::with_meter`]. A layer without a meter, or
//! with [`OtlpLayer::with_metrics`]`(false)`, records no measurements. Each instrument is made
//! once per name and value type, on first use, and looked up under a read lock afterwards.
//!
//! ```
//! # let bytes = 512u64; let elapsed_ms = 12.5;
//! // Counter<u64> `requests` += 1, Histogram<f64> `latency` records 12.5, both with the
//! // attribute route = "/cart".
//! tracing::info!(monotonic_counter.requests = 1u64, histogram.latency = elapsed_ms, route = "/cart");
//! // UpDownCounter<i64> `queue.depth` -= 1, and a log record (it has a message).
//! tracing::info!(counter.queue.depth = -1, queue = "mail", "job taken");
//! ```
//!
//! An event with metric fields is also exported as a log record or span event (per
//! [`EventMode`], with all its fields as attributes, the metric ones included) **only when it
//! has a message**; without one it is a measurement only. A metric field whose value does not
//! fit its prefix (a string, a `bool`, a negative number for a monotonic counter or a
//! histogram, a `u64` too large for an up-down counter) records nothing and is not an attribute
//! either; the event's other metric fields still record. A name the specification does not
//! allow for instruments (say `counter.9lives`) records nothing either.
//!
//! # No feedback loop
//!
//! Spans and events whose target starts with `otlp` (this SDK's own crates), and all of those
//! made on the SDK's own threads (those that marked themselves so,
//! [`otlp_sdk::context::is_sdk_thread`]: the exporter's I/O thread, the batching pipelines'
//! threads, the self-metrics thread, where hyper and h2 run and emit `tracing` spans of their
//! own), are ignored.
//! Otherwise exporting a span could make more spans to export, without end.
//!
//! # Example
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use otlp_tracing::OtlpLayer;
//! use std::time::Duration;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//! let subscriber = tracing_subscriber::registry().with(OtlpLayer::new(client.tracer("checkout")));
//! tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
//!
//! #[tracing::instrument(fields(otel.kind = "server"))]
//! async fn handle(cart_id: u64) {
//!     tracing::info!(items = 3, "cart loaded"); // a span event on `handle`
//! }
//! handle(42).await;
//!
//! client.shutdown(Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! With events as log records instead:
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use otlp_tracing::OtlpLayer;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//! // Spans through client.tracer("checkout"), events through client.logger("checkout").
//! let subscriber = tracing_subscriber::registry().with(OtlpLayer::from_client(&client, "checkout"));
//! tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
//!
//! #[tracing::instrument]
//! async fn handle(cart_id: u64) {
//!     // A log record: severity INFO (9), body "cart loaded", attribute items = 3, and the
//!     // trace id and span id of the OTLP span of `handle`.
//!     tracing::info!(items = 3, "cart loaded");
//! }
//! handle(42).await;
//! # Ok(())
//! # }
//! ```

mod dispatch;
mod ext;
mod fields;
mod instruments;
mod logs;

pub use ext::OtlpSpanExt;

use dispatch::Registered;
use fields::{AttributeSink, EventFields, SpanFields, StatusCode, Visitor};
use instruments::EventMetrics;
use otlp_proto::Str;
use otlp_sdk::OtlpClient;
use otlp_sdk::context::{ContextGuard, attach_deferred, is_sdk_thread};
use otlp_sdk::logs::Logger;
use otlp_sdk::metrics::Meter;
use otlp_sdk::trace::{Span, SpanContext, SpanKind, Status, Tracer};
use otlp_semconv::attribute as semconv;
use std::cell::RefCell;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

/// The attribute holding the `tracing` level (`TRACE` ... `ERROR`).
pub const LEVEL: &str = "level";

/// What [`OtlpLayer`] does with `tracing` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventMode {
    /// An event inside a span becomes an event of that span's OTLP span (the default). Events
    /// outside any span are dropped.
    #[default]
    SpanEvents,
    /// Events are ignored.
    Ignore,
    /// Every event becomes an OTLP log record, sent through the layer's [`Logger`] (see
    /// [`OtlpLayer::with_logger`]) and correlated with the OTLP span of the event's `tracing`
    /// parent, or with the current OTLP context outside any `tracing` span. The default once a
    /// logger is given; without one, events are dropped. No span event is added: an event is
    /// exported once.
    Logs,
}

/// A [`Layer`] that records `tracing` spans as OTLP spans; see the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct OtlpLayer {
    tracer: Tracer,
    event_mode: EventMode,
    location: bool,
    logger: Option<Logger>,
    /// Where events with metric fields record, if anywhere.
    metrics: Option<EventMetrics>,
    metrics_enabled: bool,
    registered: Registered,
}

impl OtlpLayer {
    /// A layer starting its spans with `tracer`, turning events into span events and recording
    /// code locations.
    pub fn new(tracer: Tracer) -> OtlpLayer {
        OtlpLayer {
            tracer,
            event_mode: EventMode::default(),
            location: true,
            logger: None,
            metrics: None,
            metrics_enabled: true,
            registered: Registered::default(),
        }
    }

    /// A layer for `client` under the instrumentation scope `scope`: spans through
    /// `client.tracer(scope)`, events as log records through `client.logger(scope)`
    /// ([`EventMode::Logs`]), and events' metric fields into instruments of
    /// `client.meter(scope)` (see [events as measurements](crate#events-as-measurements)).
    pub fn from_client(client: &OtlpClient, scope: &str) -> OtlpLayer {
        OtlpLayer::new(client.tracer(scope.to_owned()))
            .with_logger(client.logger(scope.to_owned()))
            .with_meter(client.meter(scope.to_owned()))
    }

    /// Records events' metric fields into instruments of `meter` (see
    /// [events as measurements](crate#events-as-measurements)); a layer made with
    /// [`OtlpLayer::from_client`] has its client's meter of the same scope.
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.metrics = Some(EventMetrics::new(meter));
        self
    }

    /// Whether events with metric fields record into instruments (default on; it takes a
    /// meter: [`OtlpLayer::from_client`] or [`with_meter`](OtlpLayer::with_meter)). Off, such
    /// events are events like the others.
    pub fn with_metrics(mut self, enabled: bool) -> Self {
        self.metrics_enabled = enabled;
        self
    }

    /// Sends events as log records through `logger`, and switches the event mode to
    /// [`EventMode::Logs`] (a later [`with_event_mode`](OtlpLayer::with_event_mode) can switch
    /// it back, keeping the logger for later).
    pub fn with_logger(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self.event_mode = EventMode::Logs;
        self
    }

    /// What to do with events (default [`EventMode::SpanEvents`], or [`EventMode::Logs`] once
    /// a logger is given).
    pub fn with_event_mode(mut self, mode: EventMode) -> Self {
        self.event_mode = mode;
        self
    }

    /// Whether spans, span events and log records get `code.file.path` and `code.line.number`
    /// (default on).
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// Makes a [`Registry`](tracing_subscriber::Registry) with this layer the process's global
    /// default subscriber. Fails (and sets nothing) when a global subscriber is already set:
    /// add the layer to that one instead (`registry().with(layer)`).
    pub fn install(self) -> Result<(), InstallError> {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(self))
            .map_err(|_| InstallError(()))
    }
}

/// Whether the process has a global default `tracing` subscriber already (then
/// [`OtlpLayer::install`] fails).
pub fn global_subscriber_is_set() -> bool {
    tracing::dispatcher::has_been_set()
}

/// [`OtlpLayer::install`] found a global subscriber set.
#[derive(Debug)]
pub struct InstallError(());

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a global `tracing` subscriber is already set in this process")
    }
}

impl std::error::Error for InstallError {}

impl OtlpLayer {
    fn common_attributes(
        &self,
        metadata: &'static Metadata<'static>,
        out: &mut impl AttributeSink,
    ) {
        out.add(LEVEL, metadata.level().as_str().into());
        self.location_attributes(metadata, out);
    }

    fn location_attributes(
        &self,
        metadata: &'static Metadata<'static>,
        out: &mut impl AttributeSink,
    ) {
        if self.location {
            if let Some(file) = metadata.file() {
                out.add(semconv::CODE_FILE_PATH, file.into());
            }
            if let Some(line) = metadata.line() {
                out.add(semconv::CODE_LINE_NUMBER, i64::from(line).into());
            }
        }
    }
}

/// What the layer keeps in a `tracing` span's extensions.
struct OtelData {
    span: Span,
    /// The kind it was started with (for [`OtlpSpanExt::set_parent`] to start it again).
    kind: SpanKind,
    status: Option<StatusCode>,
    status_description: Option<Str>,
}

thread_local! {
    /// The contexts this thread's entered spans made current, innermost last.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

/// Whether the layer leaves this span or event alone: see "No feedback loop" in the crate docs.
fn ignored(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("otlp") || is_sdk_thread()
}

/// The OTLP context of `id`'s span, if the layer recorded it.
fn context_of<S>(ctx: &Context<'_, S>, id: &Id) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    recorded_context(&ctx.span(id)?)
}

/// The OTLP context of `span`, if the layer recorded it.
fn recorded_context<'a, R: LookupSpan<'a>>(span: &SpanRef<'a, R>) -> Option<SpanContext> {
    span.extensions()
        .get::<OtelData>()
        .map(|d| d.span.span_context().clone())
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if ignored(metadata) {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        // The nearest ancestor the layer recorded (ignored spans in between are skipped).
        let parent = span
            .scope()
            .skip(1)
            .find_map(|ancestor| recorded_context(&ancestor));

        // The fields go straight into the builder's record.
        let mut fields = SpanFields::new(self.tracer.span_builder(metadata.name()));
        // A tracer that can never record only needs the span's context: skip the fields.
        if self.tracer.is_enabled() {
            self.common_attributes(metadata, &mut fields.attributes);
            attrs.record(&mut Visitor(&mut fields));
        }
        let SpanFields {
            attributes: mut builder,
            name,
            kind,
            status,
            status_description,
        } = fields;
        if let Some(name) = name {
            builder = builder.with_name(name);
        }
        let kind = kind.unwrap_or(SpanKind::Internal);
        builder = builder.with_kind(kind);
        builder = match &parent {
            Some(parent) => builder.with_parent(parent),
            None if attrs.is_root() => builder.with_no_parent(),
            None => builder, // the current context, if any
        };
        let data = OtelData {
            span: builder.start(),
            kind,
            status,
            status_description,
        };
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<OtelData>() else {
            return;
        };
        let mut fields = SpanFields::new(Vec::new());
        values.record(&mut Visitor(&mut fields));
        if let Some(name) = fields.name {
            data.span.update_name(name);
        }
        data.span.set_attributes(fields.attributes);
        if fields.status.is_some() {
            data.status = fields.status;
        }
        if fields.status_description.is_some() {
            data.status_description = fields.status_description;
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(linked) = context_of(&ctx, follows) else {
            return;
        };
        let Some(span) = ctx.span(id) else {
            return;
        };
        if let Some(data) = span.extensions_mut().get_mut::<OtelData>() {
            data.span.add_link(linked, Vec::new());
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if ignored(event.metadata()) {
            return;
        }
        if let Some(metrics) = &self.metrics
            && self.metrics_enabled
            && instruments::has_metric_fields(event.metadata())
        {
            metrics.record(event);
            // A measurement is exported as a log record or span event only if it also says
            // something.
            if event.metadata().fields().field("message").is_none() {
                return;
            }
        }
        if self.event_mode == EventMode::Ignore {
            return;
        }
        if self.event_mode == EventMode::Logs {
            if let Some(logger) = &self.logger {
                logs::emit(logger, self, event, &ctx);
            }
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let metadata = event.metadata();
        let mut fields = EventFields::default();
        fields.attributes.reserve(metadata.fields().len() + 2);
        self.common_attributes(metadata, &mut fields.attributes);
        event.record(&mut Visitor(&mut fields));
        let name: Str = match fields.message {
            Some(message) => message,
            None => metadata.name().into(),
        };
        for span in span.scope() {
            let mut extensions = span.extensions_mut();
            if let Some(data) = extensions.get_mut::<OtelData>() {
                data.span.add_event(name, fields.attributes);
                return;
            }
        }
    }

    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        dispatch::register::<S>(self, dispatch);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let guard = match self.registered.get() {
            // A span not recorded (ignored) resolves to nothing and is passed over.
            Some(registration) => attach_deferred(registration.slot, id.into_u64()),
            None => {
                let Some(context) = context_of(&ctx, id) else {
                    return;
                };
                context.attach()
            }
        };
        // At thread exit the guard is simply dropped, which is also right.
        let _ = ENTERED.try_with(|entered| entered.borrow_mut().push((id.clone(), guard)));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        // Spans are normally exited in reverse order of entry. If one is exited early, dropping
        // its guard also takes the contexts entered after it off the SDK's stack.
        let guard = ENTERED
            .try_with(|entered| {
                let mut entered = entered.borrow_mut();
                let at = entered
                    .iter()
                    .rposition(|(entered_id, _)| entered_id == id)?;
                Some(entered.remove(at))
            })
            .ok()
            .flatten();
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(mut data) = span.extensions_mut().remove::<OtelData>() else {
            return;
        };
        match data.status {
            Some(StatusCode::Ok) => data.span.set_status(Status::Ok),
            Some(StatusCode::Error) => data
                .span
                .set_status(Status::error(data.status_description.unwrap_or_default())),
            None => {}
        }
        data.span.end();
    }
}
