//! Several propagators in turn, and the `OTEL_PROPAGATORS` variable.

use super::{
    BaggagePropagator, Context, Extractor, Injector, TextMapPropagator, TraceContextPropagator,
};
use crate::Error;

/// Propagators applied in turn: each injects its fields, and each extracts into the context the
/// previous ones extracted.
#[derive(Debug, Default)]
pub struct CompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator>>,
    fields: Vec<&'static str>,
}

impl CompositePropagator {
    /// A composite of these propagators, in this order.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator>>) -> Self {
        let mut fields = Vec::new();
        for p in &propagators {
            for f in p.fields() {
                if !fields.contains(f) {
                    fields.push(*f);
                }
            }
        }
        CompositePropagator {
            propagators,
            fields,
        }
    }

    /// W3C Trace Context then W3C Baggage: the default of `OTEL_PROPAGATORS`.
    pub fn w3c() -> Self {
        CompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    /// How many propagators there are.
    pub fn len(&self) -> usize {
        self.propagators.len()
    }

    /// Whether there is none (`OTEL_PROPAGATORS=none`): nothing is injected or extracted.
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }
}

impl TextMapPropagator for CompositePropagator {
    fn inject(&self, context: &Context, injector: &mut dyn Injector) {
        for p in &self.propagators {
            p.inject(context, injector);
        }
    }

    fn extract_with_context(&self, context: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = context.clone();
        for p in &self.propagators {
            cx = p.extract_with_context(&cx, extractor);
        }
        cx
    }

    fn fields(&self) -> &[&'static str] {
        &self.fields
    }
}

/// The propagators `OTEL_PROPAGATORS` names, read through `lookup` (pass
/// `|name| std::env::var(name).ok()` for the process environment).
///
/// A comma-separated list of `tracecontext`, `baggage` and `none`, applied in the order given
/// (duplicates dropped). Unset or empty means `tracecontext,baggage`; `none` alone means no
/// propagation. Any other name (`b3`, `jaeger`, ...) is a configuration error naming the
/// variable and the value.
pub fn propagators_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<CompositePropagator, Error> {
    const VAR: &str = "OTEL_PROPAGATORS";
    let Some(value) = lookup(VAR).filter(|v| !v.trim().is_empty()) else {
        return Ok(CompositePropagator::w3c());
    };
    let mut names: Vec<&str> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "tracecontext" | "baggage" | "none" => {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            other => {
                return Err(Error::env(
                    VAR,
                    &value,
                    format!(
                        "unsupported propagator {other:?}; expected a comma-separated list of \
                         tracecontext, baggage or none"
                    ),
                ));
            }
        }
    }
    if names.contains(&"none") && names.len() > 1 {
        return Err(Error::env(
            VAR,
            &value,
            "`none` cannot be combined with other propagators",
        ));
    }
    let propagators = names
        .into_iter()
        .filter_map(|n| -> Option<Box<dyn TextMapPropagator>> {
            match n {
                "tracecontext" => Some(Box::new(TraceContextPropagator::new())),
                "baggage" => Some(Box::new(BaggagePropagator::new())),
                _ => None,
            }
        })
        .collect();
    Ok(CompositePropagator::new(propagators))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use std::collections::HashMap;

    fn from(value: &str) -> Result<CompositePropagator, Error> {
        let value = value.to_owned();
        propagators_from_env(move |name| (name == "OTEL_PROPAGATORS").then(|| value.clone()))
    }

    #[test]
    fn otel_propagators_is_read() {
        let default = propagators_from_env(|_| None).expect("unset");
        assert_eq!(default.fields(), ["traceparent", "tracestate", "baggage"]);
        assert_eq!(from("  ").expect("empty").len(), 2);
        assert_eq!(from("baggage").expect("one").fields(), ["baggage"]);
        let both = from(" baggage , tracecontext,baggage ").expect("both");
        assert_eq!(both.fields(), ["baggage", "traceparent", "tracestate"]);
        assert!(from("none").expect("none").is_empty());
        for bad in ["b3", "tracecontext,jaeger", "TraceContext", "none,baggage"] {
            let e = from(bad).expect_err(bad);
            assert!(e.is_config(), "{e}");
            let msg = e.to_string();
            assert!(msg.contains(&format!("OTEL_PROPAGATORS={bad:?}")), "{msg}");
        }
        let msg = from("tracecontext,b3").expect_err("b3").to_string();
        assert!(msg.contains("\"b3\""), "{msg}");
    }

    #[test]
    fn composite_round_trips_both() {
        let p = CompositePropagator::w3c();
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        headers.insert("baggage", http::HeaderValue::from_static("a=1"));
        let cx = p.extract(&headers);
        assert!(cx.span.is_valid());
        assert_eq!(cx.baggage.get("a"), Some("1"));
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject(&cx, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(p.extract(&out), cx);
        let none = from("none").expect("none");
        let mut nothing = HeaderMap::new();
        none.inject(&cx, &mut nothing);
        assert!(nothing.is_empty());
        assert_eq!(none.extract(&headers), Context::default());
    }

    /// Headers as the OpenTelemetry Python SDK's propagators write them
    /// (`TraceContextTextMapPropagator` and `W3CBaggagePropagator`).
    #[test]
    fn python_sdk_headers_are_extracted() {
        let carrier: HashMap<String, String> = [
            (
                "traceparent".to_owned(),
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned(),
            ),
            ("baggage".to_owned(), "k1=v1,k2=v%202;prop=1".to_owned()),
        ]
        .into();
        let cx = CompositePropagator::w3c().extract(&carrier);
        assert_eq!(
            cx.span.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(cx.span.span_id().to_string(), "b7ad6b7169203331");
        assert!(cx.span.is_sampled() && cx.span.is_remote());
        assert!(cx.span.trace_state().is_empty());
        assert_eq!(cx.baggage.get("k1"), Some("v1"));
        assert_eq!(cx.baggage.get("k2"), Some("v 2"));
        assert_eq!(cx.baggage.metadata("k2"), Some("prop=1"));
        assert_eq!(cx.baggage.len(), 2);

        let mut headers = HeaderMap::new();
        for (k, v) in &carrier {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        assert_eq!(CompositePropagator::w3c().extract(&headers), cx);
    }
}
