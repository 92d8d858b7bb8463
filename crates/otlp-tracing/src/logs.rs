//! [`EventMode::Logs`](crate::EventMode::Logs): a `tracing` event as an OTLP log record,
//! correlated with the OTLP span of its `tracing` parent.

use crate::fields::{EventFields, Visitor};
use crate::{OtelData, OtlpLayer};
use otlp_sdk::logs::{LogBuilder, Logger, Severity};
use otlp_sdk::trace::SpanContext;
use std::time::{Duration, UNIX_EPOCH};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The OTLP severity of a `tracing` level: the first number of each OTLP range.
pub(crate) fn severity(level: &Level) -> Severity {
    match *level {
        Level::TRACE => Severity::Trace,
        Level::DEBUG => Severity::Debug,
        Level::INFO => Severity::Info,
        Level::WARN => Severity::Warn,
        Level::ERROR => Severity::Error,
    }
}

/// The span context the event's record is correlated with: the OTLP span of the nearest
/// `tracing` ancestor (the event's explicit parent or the current `tracing` span) that the
/// layer recorded; else the SDK's current context (invalid, so no correlation, when none).
fn correlation<S>(event: &Event<'_>, ctx: &Context<'_, S>) -> SpanContext
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let recorded = ctx.event_span(event).and_then(|span| {
        span.scope().find_map(|ancestor| {
            ancestor
                .extensions()
                .get::<OtelData>()
                .map(|d| d.span.span_context().clone())
        })
    });
    recorded.unwrap_or_else(SpanContext::current)
}

/// Sends `event` as a log record through `logger`: severity and its text from the level, body
/// from the `message` field, the other fields as typed attributes, the code location when the
/// layer records locations, and the time now.
pub(crate) fn emit<S>(logger: &Logger, layer: &OtlpLayer, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let metadata = event.metadata();
    let mut fields = EventFields::default();
    fields.attributes.reserve(metadata.fields().len() + 2);
    event.record(&mut Visitor(&mut fields));
    layer.location_attributes(metadata, &mut fields.attributes);
    // The SDK's clock, the one its spans are stamped with.
    let now = UNIX_EPOCH + Duration::from_nanos(otlp_sdk::clock::now_unix_nanos());
    let mut builder = LogBuilder::new()
        .with_severity(severity(metadata.level()))
        .with_attributes(fields.attributes)
        .with_timestamp(now)
        .with_observed_timestamp(now)
        .with_span_context(&correlation(event, ctx));
    if let Some(message) = fields.message {
        builder = builder.with_body(message);
    }
    let _ = logger.emit(builder.build());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_the_first_number_of_each_range() {
        let numbers: Vec<i32> = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .iter()
        .map(|l| severity(l).number())
        .collect();
        assert_eq!(numbers, [1, 5, 9, 13, 17]);
        assert_eq!(severity(&Level::WARN).text(), Level::WARN.as_str());
    }
}
