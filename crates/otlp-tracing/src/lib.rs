//! A [`tracing`] layer that records `tracing` spans as OTLP spans through an
//! [`otlp_sdk::trace::Tracer`], and `tracing` events as span events or as OTLP log records
//! correlated with those spans.
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
//!   on a future carries that across `.await` and threads. Under a [`Registry`] this costs a
//!   push: the context is looked up only when something asks for it
//!   ([`otlp_sdk::trace::attach_deferred`]);
//! - `follows_from` adds a link; closing the `tracing` span ends the OTLP span;
//! - events: see below.
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
//! # No feedback loop
//!
//! Spans and events whose target starts with `otlp` (this SDK's own crates), and all of those
//! made on the SDK's own threads (named `otlp-...`: the exporter's I/O thread and the batching
//! pipelines' threads, where hyper and h2 run and emit `tracing` spans of their own), are ignored.
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

mod logs;

use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_sdk::OtlpClient;
use otlp_sdk::logs::Logger;
use otlp_sdk::trace::{
    ContextGuard, Span, SpanBuilder, SpanContext, SpanKind, Status, Tracer, attach_deferred,
};
use otlp_semconv::attribute as semconv;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::Registry;
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
    registered: Registered,
}

/// Where the layer's spans can be looked up from outside a `tracing` callback: the index of
/// its dispatcher in [`DISPATCHERS`], once registered with one whose subscriber is a
/// [`Registry`]. Entering a span then makes it current in the SDK lazily ([`attach_deferred`]):
/// a push, with the lookup done only if something asks for the current context. A clone is
/// not registered yet.
#[derive(Debug)]
struct Registered(AtomicUsize);

const UNREGISTERED: usize = usize::MAX;

impl Clone for Registered {
    fn clone(&self) -> Self {
        Registered::default()
    }
}

impl Default for Registered {
    fn default() -> Self {
        Registered(AtomicUsize::new(UNREGISTERED))
    }
}

/// The dispatchers layers registered with, weakly: a slot is reused once its dispatcher is
/// gone (which no entered span outlives: a span holds its dispatcher).
static DISPATCHERS: Mutex<Vec<WeakDispatch>> = Mutex::new(Vec::new());

/// The [`Resolve`] of the layer's deferred frames: the OTLP context of span `id` in the
/// dispatcher at `index` of [`DISPATCHERS`].
fn resolve_registered(id: u64, index: usize) -> Option<SpanContext> {
    let dispatch = DISPATCHERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(index)?
        .upgrade()?;
    let registry = dispatch.downcast_ref::<Registry>()?;
    recorded_context(&registry.span(&Id::from_u64(id))?)
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
            registered: Registered::default(),
        }
    }

    /// A layer for `client` under the instrumentation scope `scope`: spans through
    /// `client.tracer(scope)`, and events as log records through `client.logger(scope)`
    /// ([`EventMode::Logs`]).
    pub fn from_client(client: &OtlpClient, scope: &str) -> OtlpLayer {
        OtlpLayer::new(client.tracer(scope.to_owned())).with_logger(client.logger(scope.to_owned()))
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
    status: Option<StatusCode>,
    status_description: Option<Str>,
}

#[derive(Clone, Copy)]
enum StatusCode {
    Ok,
    Error,
}

thread_local! {
    /// The contexts this thread's entered spans made current, innermost last.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
    /// Whether this is one of the SDK's own threads (`None` until first asked).
    static SDK_THREAD: Cell<Option<bool>> = const { Cell::new(None) };
}

fn on_sdk_thread() -> bool {
    SDK_THREAD
        .try_with(|cached| match cached.get() {
            Some(v) => v,
            None => {
                let v = std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("otlp-"));
                cached.set(Some(v));
                v
            }
        })
        .unwrap_or(false)
}

/// Whether the layer leaves this span or event alone: see "No feedback loop" in the crate docs.
fn ignored(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("otlp") || on_sdk_thread()
}

fn parse_kind(s: &str) -> Option<SpanKind> {
    let kinds = [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ];
    kinds
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
}

fn parse_status(s: &str) -> Option<StatusCode> {
    if s.eq_ignore_ascii_case("ok") {
        Some(StatusCode::Ok)
    } else if s.eq_ignore_ascii_case("error") {
        Some(StatusCode::Error)
    } else {
        None
    }
}

/// Where attributes go: a vector (events, log records, updates), or straight into the record
/// of the span being built (new spans: no intermediate buffer, no copy).
trait AttributeSink {
    fn add(&mut self, key: &'static str, value: AnyValue);
}

impl AttributeSink for Vec<KeyValue> {
    fn add(&mut self, key: &'static str, value: AnyValue) {
        self.push(KeyValue::new(key, value));
    }
}

impl AttributeSink for SpanBuilder<'_> {
    #[inline]
    fn add(&mut self, key: &'static str, value: AnyValue) {
        self.add_attribute(key, value);
    }
}

/// Where a [`Visitor`] puts the fields it reads: typed values, and text (which may carry
/// instructions such as `otel.kind` or an event's `message`).
trait Fields {
    fn value(&mut self, field: &Field, value: AnyValue);
    fn string(&mut self, field: &Field, value: Str);
}

/// The one `Visit` implementation: maps each `tracing` field type to an OTLP value.
struct Visitor<'a, F>(&'a mut F);

impl<F: Fields> Visit for Visitor<'_, F> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.value(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.value(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.value(field, int_or_string(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.value(field, int_or_string(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.value(field, int_or_string(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.value(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        // Short strings are copied inline: no allocation.
        self.0.string(field, Str::copy_from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.string(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.string(field, format!("{value:?}").into());
    }
}

/// Collects a span's fields: attributes (into `A`), and the `otel.*` instructions.
struct SpanFields<A> {
    attributes: A,
    name: Option<Str>,
    kind: Option<SpanKind>,
    status: Option<StatusCode>,
    status_description: Option<Str>,
}

impl<A> SpanFields<A> {
    fn new(attributes: A) -> Self {
        SpanFields {
            attributes,
            name: None,
            kind: None,
            status: None,
            status_description: None,
        }
    }
}

impl<A: AttributeSink> Fields for SpanFields<A> {
    fn string(&mut self, field: &Field, value: Str) {
        match field.name() {
            "otel.name" => self.name = Some(value),
            "otel.kind" => self.kind = parse_kind(&value),
            "otel.status_code" => self.status = parse_status(&value),
            "otel.status_description" => self.status_description = Some(value),
            name => self.attributes.add(name, value.into()),
        }
    }

    fn value(&mut self, field: &Field, value: AnyValue) {
        self.attributes.add(field.name(), value);
    }
}

fn int_or_string<T: TryInto<i64> + ToString + Copy>(v: T) -> AnyValue {
    v.try_into()
        .map_or_else(|_| AnyValue::from(v.to_string()), AnyValue::from)
}

/// Collects an event's fields: its `message` (the span event's name) and attributes.
#[derive(Default)]
struct EventFields {
    message: Option<Str>,
    attributes: Vec<KeyValue>,
}

impl Fields for EventFields {
    fn value(&mut self, field: &Field, value: AnyValue) {
        self.attributes.add(field.name(), value);
    }

    fn string(&mut self, field: &Field, value: Str) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.value(field, value.into());
        }
    }
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
        builder = builder.with_kind(kind.unwrap_or(SpanKind::Internal));
        builder = match &parent {
            Some(parent) => builder.with_parent(parent),
            None if attrs.is_root() => builder.with_no_parent(),
            None => builder, // the current context, if any
        };
        let data = OtelData {
            span: builder.start(),
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
        if self.event_mode == EventMode::Ignore || ignored(event.metadata()) {
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
        if dispatch.downcast_ref::<Registry>().is_none() {
            return;
        }
        let mut all = DISPATCHERS.lock().unwrap_or_else(PoisonError::into_inner);
        let index = match all.iter().position(|w| w.upgrade().is_none()) {
            Some(free) => {
                all[free] = dispatch.downgrade();
                free
            }
            None => {
                all.push(dispatch.downgrade());
                all.len() - 1
            }
        };
        self.registered.0.store(index, Ordering::Relaxed);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let index = self.registered.0.load(Ordering::Relaxed);
        let guard = if index == UNREGISTERED {
            let Some(context) = context_of(&ctx, id) else {
                return;
            };
            context.attach()
        } else {
            // A span not recorded (ignored) resolves to nothing and is passed over.
            attach_deferred(id.into_u64(), index, resolve_registered)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(parse_kind("Server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("CONSUMER"), Some(SpanKind::Consumer));
        assert_eq!(parse_kind("nope"), None);
        assert!(matches!(parse_status("OK"), Some(StatusCode::Ok)));
        assert!(matches!(parse_status("error"), Some(StatusCode::Error)));
        assert!(parse_status("unset").is_none());
        assert_eq!(int_or_string(7u64), AnyValue::from(7i64));
        assert_eq!(
            int_or_string(u64::MAX),
            AnyValue::from(u64::MAX.to_string())
        );
    }
}
