"""Inject or extract W3C trace context and baggage with the real OpenTelemetry Python propagators.

The propagator is the composite of ``TraceContextTextMapPropagator`` and
``W3CBaggagePropagator`` (what ``OTEL_PROPAGATORS=tracecontext,baggage`` gives); only
opentelemetry-api is used (run with the py-sdk interpreter).

``propagate.py inject`` reads one JSON object from stdin::

    {"trace_id": "<32 hex>", "span_id": "<16 hex>", "sampled": true,
     "trace_state": "k1=v1,k2=v2", "baggage": {"k": "v"}}

(``trace_state`` and ``baggage`` are optional) and prints the headers the propagator wrote,
as one JSON object, e.g. ``{"traceparent": "00-...-01", "tracestate": "...", "baggage": "..."}``.

``propagate.py extract`` reads one JSON object of headers (name -> value) from stdin and prints
what the propagator extracted::

    {"valid": true, "trace_id": "<32 hex>", "span_id": "<16 hex>", "trace_flags": 1,
     "sampled": true, "is_remote": true, "trace_state": "k1=v1,k2=v2", "baggage": {"k": "v"}}

or ``{"valid": false, "baggage": {...}}`` when there is no valid span context.

In both modes a JSON array of such objects may be given instead: the answer is then a JSON array
with one result per element, in order (one interpreter start for many cases).

Exit: 0 done; 2 usage error or unreadable input.
"""

from __future__ import annotations

import json
import sys

from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def inject(spec: dict) -> dict:
    trace_state = spec.get("trace_state") or ""
    span_context = trace.SpanContext(
        trace_id=int(spec["trace_id"], 16),
        span_id=int(spec["span_id"], 16),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if spec.get("sampled") else 0),
        trace_state=trace.TraceState.from_header([trace_state]) if trace_state else None,
    )
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(span_context), Context())
    for key, value in (spec.get("baggage") or {}).items():
        ctx = baggage.set_baggage(key, value, context=ctx)
    headers: dict[str, str] = {}
    PROPAGATOR.inject(headers, context=ctx)
    return headers


def extract(headers: dict) -> dict:
    ctx = PROPAGATOR.extract(headers, context=Context())
    entries = {str(k): str(v) for k, v in baggage.get_all(context=ctx).items()}
    span_context = trace.get_current_span(ctx).get_span_context()
    if not span_context.is_valid:
        return {"valid": False, "baggage": entries}
    return {
        "valid": True,
        "trace_id": trace.format_trace_id(span_context.trace_id),
        "span_id": trace.format_span_id(span_context.span_id),
        "trace_flags": int(span_context.trace_flags),
        "sampled": span_context.trace_flags.sampled,
        "is_remote": span_context.is_remote,
        "trace_state": span_context.trace_state.to_header(),
        "baggage": entries,
    }


def main() -> int:
    modes = {"inject": inject, "extract": extract}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print("usage: propagate.py inject|extract  (JSON on stdin)", file=sys.stderr)
        return 2
    run = modes[sys.argv[1]]
    try:
        request = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        print(f"propagate.py: stdin is not JSON: {e}", file=sys.stderr)
        return 2
    if isinstance(request, list):
        answer = [run(item) for item in request]
    elif isinstance(request, dict):
        answer = run(request)
    else:
        print("propagate.py: stdin must be a JSON object or array", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
