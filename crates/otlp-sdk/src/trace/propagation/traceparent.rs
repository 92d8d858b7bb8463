//! W3C Trace Context: the `traceparent` and `tracestate` HTTP headers.

use super::{Context, Extractor, Injector, TextMapPropagator};
use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use http::HeaderMap;
use http::header::HeaderName;

/// The `traceparent` header name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Writes `context` as `traceparent` (version `00`) and, when not empty, `tracestate`,
/// replacing earlier values. An invalid context writes nothing.
pub fn inject(context: &SpanContext, headers: &mut HeaderMap) {
    inject_into(context, headers);
}

/// Reads a remote span context from `traceparent` and `tracestate`. A missing or invalid
/// `traceparent` gives `None`; an invalid `tracestate` gives the empty state. Several
/// `tracestate` headers are joined, as W3C asks.
pub fn extract(headers: &HeaderMap) -> Option<SpanContext> {
    extract_from(headers)
}

fn inject_into(context: &SpanContext, injector: &mut dyn Injector) {
    if !context.is_valid() {
        return;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().bits()
    );
    injector.set(TRACEPARENT.as_str(), traceparent);
    let state = context.trace_state();
    if state.is_empty() {
        injector.remove(TRACESTATE.as_str());
    } else {
        injector.set(TRACESTATE.as_str(), state.as_str().to_owned());
    }
}

fn extract_from(extractor: &dyn Extractor) -> Option<SpanContext> {
    let [parent] = extractor.get_all(TRACEPARENT.as_str())[..] else {
        return None;
    };
    let (trace_id, span_id, flags) = parse_traceparent(parent)?;
    let mut state = String::new();
    for v in extractor.get_all(TRACESTATE.as_str()) {
        if !state.is_empty() {
            state.push(',');
        }
        state.push_str(v);
    }
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::parse(&state),
    ))
}

/// The W3C Trace Context propagator: the `traceparent` and `tracestate` keys.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator;

impl TraceContextPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        TraceContextPropagator
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject(&self, context: &Context, injector: &mut dyn Injector) {
        inject_into(&context.span, injector);
    }

    fn extract_with_context(&self, context: &Context, extractor: &dyn Extractor) -> Context {
        match extract_from(extractor) {
            Some(span) => Context::new(span, context.baggage.clone()),
            None => context.clone(),
        }
    }

    fn fields(&self) -> &[&'static str] {
        &["traceparent", "tracestate"]
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = value.trim_matches([' ', '\t']);
    if value.len() < 55 || !value.is_ascii() {
        return None;
    }
    let version = &value[..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; later versions may append `-`-prefixed fields.
    if (version == "00" && value.len() != 55) || (value.len() > 55 && &value[55..56] != "-") {
        return None;
    }
    let b = value.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
    if !is_lower_hex(trace) || !is_lower_hex(span) || !is_lower_hex(flags) {
        return None;
    }
    let trace_id: TraceId = trace.parse().ok()?;
    let span_id: SpanId = span.parse().ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    (trace_id.is_valid() && span_id.is_valid()).then_some((
        trace_id,
        span_id,
        TraceFlags::new(flags),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::HeaderValue;
    use std::collections::HashMap;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn round_trip() {
        let h = headers(&[
            ("traceparent", PARENT),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("tracestate", "congo=t61rcWkgMzE"),
        ]);
        let ctx = extract(&h).expect("valid");
        assert!(ctx.is_remote() && ctx.is_sampled());
        assert_eq!(
            ctx.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ctx.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(
            ctx.trace_state().as_str(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        let mut out = HeaderMap::new();
        inject(&ctx, &mut out);
        assert_eq!(out.get(TRACEPARENT).expect("set"), PARENT);
        assert_eq!(
            out.get(TRACESTATE).expect("set"),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        let mut none = HeaderMap::new();
        inject(&SpanContext::INVALID, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn invalid_headers_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(
                extract(&headers(&[("traceparent", bad)])).is_none(),
                "{bad:?}"
            );
        }
        assert!(
            extract(&headers(&[
                ("traceparent", PARENT),
                ("traceparent", PARENT)
            ]))
            .is_none()
        );
        // A future version with extra fields is accepted.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what";
        let ctx = extract(&headers(&[("traceparent", future)])).expect("future version");
        assert!(!ctx.is_sampled());
        // An invalid tracestate is dropped, the traceparent kept.
        let ctx = extract(&headers(&[
            ("traceparent", PARENT),
            ("tracestate", "BAD=1"),
        ]))
        .expect("valid parent");
        assert!(ctx.trace_state().is_empty());
        // A tracestate that is not text is dropped too; a traceparent that is not text is no
        // parent, and still counts as a second one.
        let mut h = headers(&[("traceparent", PARENT), ("tracestate", "a=1")]);
        h.append(
            TRACESTATE,
            HeaderValue::from_bytes(b"b=\xff").expect("opaque"),
        );
        assert!(extract(&h).expect("valid parent").trace_state().is_empty());
        let mut h = headers(&[("traceparent", PARENT)]);
        h.append(
            TRACEPARENT,
            HeaderValue::from_bytes(b"\xff").expect("opaque"),
        );
        assert!(extract(&h).is_none());
    }

    #[test]
    fn propagator_works_on_any_carrier() {
        let p = TraceContextPropagator::new();
        let mut map: HashMap<String, String> = HashMap::new();
        map.insert("traceparent".into(), PARENT.into());
        map.insert("tracestate".into(), "rojo=1".into());
        let ctx = p.extract(&map);
        assert!(ctx.span.is_valid() && ctx.span.is_remote());
        assert_eq!(ctx.span.trace_state().as_str(), "rojo=1");
        let mut out = HeaderMap::new();
        p.inject(&ctx, &mut out);
        assert_eq!(out.get(TRACEPARENT).expect("set"), PARENT);
        assert_eq!(out.get(TRACESTATE).expect("set"), "rojo=1");
        // Nothing valid: the context passed in is kept.
        let empty: HashMap<String, String> = HashMap::new();
        assert_eq!(p.extract(&empty), Context::default());
        let bad: HashMap<String, String> = [("traceparent".into(), "00-xyz".into())].into();
        assert!(!p.extract(&bad).span.is_valid());
    }
}
