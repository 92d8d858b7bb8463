//! W3C Trace Context: the `traceparent` and `tracestate` HTTP headers.

use super::context::{SpanContext, TraceFlags, TraceState};
use super::id::{SpanId, TraceId};
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// The `traceparent` header name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// Writes `context` as `traceparent` (version `00`) and, when not empty, `tracestate`,
/// replacing earlier values. An invalid context writes nothing.
pub fn inject(context: &SpanContext, headers: &mut HeaderMap) {
    if !context.is_valid() {
        return;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().bits()
    );
    if let Ok(v) = HeaderValue::from_str(&traceparent) {
        headers.insert(TRACEPARENT, v);
    }
    let state = context.trace_state();
    if state.is_empty() {
        headers.remove(TRACESTATE);
    } else if let Ok(v) = HeaderValue::from_str(state.as_str()) {
        headers.insert(TRACESTATE, v);
    }
}

/// Reads a remote span context from `traceparent` and `tracestate`. A missing or invalid
/// `traceparent` gives `None`; an invalid `tracestate` gives the empty state. Several
/// `tracestate` headers are joined, as W3C asks.
pub fn extract(headers: &HeaderMap) -> Option<SpanContext> {
    let mut parents = headers.get_all(TRACEPARENT).iter();
    let parent = parents.next()?;
    if parents.next().is_some() {
        return None;
    }
    let (trace_id, span_id, flags) = parse_traceparent(parent.to_str().ok()?)?;
    let mut state = String::new();
    for v in headers.get_all(TRACESTATE) {
        let Ok(v) = v.to_str() else {
            state.clear();
            break;
        };
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
    }
}
