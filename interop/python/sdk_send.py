"""Send a fixed OTLP workload with the real OpenTelemetry Python SDK.

Uses the SDK's providers and processors and the official OTLP exporters:

* ``--protocol grpc`` / ``http/protobuf``: opentelemetry-exporter-otlp-proto-*
  (run with the py-sdk interpreter);
* ``--protocol http/json``: opentelemetry-exporter-otlp-json-http
  (run with the py-json interpreter).

Exporter modules are imported lazily, so each venv only needs its own.

Workload (resource service.name="py-peer", peer.lang="python"):

* traces: "py-root" (SERVER) with attributes of every type and a span event
  "py-event"; its child "py-child" (CLIENT) has status ERROR "py failed";
* metrics: counter "py.counter" (3 + 4 with k=v), histogram "py.histogram"
  (1, 5, 50), up-down counter "py.updown" (5 - 2), observable gauge
  "py.gauge" (42.5); one export, cumulative temporality;
* logs: "py warning log" (WARN, attribute), "py log in span" (INFO, emitted
  inside py-root so it carries its trace and span ids) and, if the logs API
  has event_name, "py event log" with event_name "py.event".

Every exporter is wrapped to record its export results. After force_flush
and shutdown of all providers the script prints ONE JSON summary line on
stdout and exits 0 only if each selected signal was exported at least once,
every export returned SUCCESS and the expected item counts went out;
otherwise it explains on stderr and exits 1. The whole run is bounded by
--deadline (exit 3 when exceeded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from urllib.parse import urlparse

SERVICE_NAME = "py-peer"
SPAN_NAMES = ["py-root", "py-child"]
METRIC_NAMES = ["py.counter", "py.histogram", "py.updown", "py.gauge"]
SCOPE = ("py-peer.scope", "0.1.0")
ALL_SIGNALS = ("traces", "metrics", "logs")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--endpoint",
        required=True,
        help="http://127.0.0.1:PORT (gRPC target, or HTTP base URL; /v1/<signal> is appended)",
    )
    parser.add_argument("--protocol", choices=["grpc", "http/protobuf", "http/json"], default="grpc")
    parser.add_argument("--signals", default=",".join(ALL_SIGNALS), help="comma list of traces,metrics,logs")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-export timeout, seconds")
    parser.add_argument("--deadline", type=float, default=60.0, help="hard limit for the whole run, seconds")
    args = parser.parse_args()
    signals = [s.strip() for s in args.signals.split(",") if s.strip()]
    unknown = set(signals) - set(ALL_SIGNALS)
    if unknown or not signals:
        parser.error(f"--signals must be a non-empty subset of {','.join(ALL_SIGNALS)}")
    args.signals = [s for s in ALL_SIGNALS if s in signals]
    return args


# --------------------------------------------------------------------------
# exporters


def make_exporters(protocol: str, endpoint: str, compression: str, timeout: float, metric_options=None):
    """Return (span, metric, log) exporters for the protocol (lazy imports).

    ``metric_options``: extra keyword arguments of the metric exporter (e.g.
    ``preferred_temporality``; used by sdk_metrics.py).
    """
    gzip = compression == "gzip"
    metric_options = metric_options or {}
    base = endpoint.rstrip("/")
    if protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        target = urlparse(base).netloc or base  # "127.0.0.1:PORT"
        kwargs = dict(
            endpoint=target,
            insecure=True,
            timeout=timeout,
            compression=grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression,
        )
        return OTLPSpanExporter(**kwargs), OTLPMetricExporter(**kwargs, **metric_options), OTLPLogExporter(**kwargs)

    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        comp = Compression.Gzip if gzip else Compression.NoCompression
    else:  # http/json
        from opentelemetry.exporter.otlp.common.http import Compression
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

        comp = Compression.GZIP if gzip else Compression.NONE

    # The HTTP exporters' `endpoint` is the full per-signal URL.
    return (
        OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=timeout, compression=comp),
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=timeout, compression=comp, **metric_options),
        OTLPLogExporter(endpoint=f"{base}/v1/logs", timeout=timeout, compression=comp),
    )


class Results:
    """Thread-safe record of every export call: signal -> [(ok, items)]."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls: dict[str, list[tuple[bool, int]]] = {s: [] for s in ALL_SIGNALS}

    def add(self, signal: str, ok: bool, items: int) -> None:
        with self._lock:
            self.calls[signal].append((ok, items))


def wrap_exporters(span_exp, metric_exp, log_exp, results: Results):
    """Wrap the real exporters so that every export result is recorded."""
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class RecordingSpanExporter(SpanExporter):
        def export(self, spans):
            result = span_exp.export(spans)
            results.add("traces", result == SpanExportResult.SUCCESS, len(spans))
            return result

        def shutdown(self):
            span_exp.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return span_exp.force_flush(timeout_millis)

    class RecordingMetricExporter(MetricExporter):
        def __init__(self):
            super().__init__(
                preferred_temporality=metric_exp._preferred_temporality,
                preferred_aggregation=metric_exp._preferred_aggregation,
            )

        def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
            result = metric_exp.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            count = sum(
                len(sm.metrics)
                for rm in metrics_data.resource_metrics
                for sm in rm.scope_metrics
            )
            results.add("metrics", result == MetricExportResult.SUCCESS, count)
            return result

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return metric_exp.force_flush(timeout_millis=timeout_millis)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
            metric_exp.shutdown(timeout_millis=timeout_millis, **kwargs)

    class RecordingLogExporter(LogRecordExporter):
        def export(self, batch):
            result = log_exp.export(batch)
            results.add("logs", result == LogRecordExportResult.SUCCESS, len(batch))
            return result

        def shutdown(self):
            log_exp.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return log_exp.force_flush(timeout_millis)

    return RecordingSpanExporter(), RecordingMetricExporter(), RecordingLogExporter()


# --------------------------------------------------------------------------
# workload


def run_workload(args, results: Results) -> dict:
    """Build providers, emit the workload, flush and shut down. Returns the summary."""
    import math

    from opentelemetry import trace
    from opentelemetry._logs import SeverityNumber
    from opentelemetry.metrics import Observation
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    try:
        exporters = make_exporters(args.protocol, args.endpoint, args.compression, args.timeout)
    except ImportError as err:
        venv = "py-json" if args.protocol == "http/json" else "py-sdk"
        print(f"sdk_send: --protocol {args.protocol} must run with the {venv} interpreter: {err}", file=sys.stderr)
        sys.exit(2)
    span_exp, metric_exp, log_exp = wrap_exporters(*exporters, results)
    resource = Resource.create({"service.name": SERVICE_NAME, "peer.lang": "python"})
    flush_ms = int(args.timeout * 1000) + 5000

    # The tracer provider always exists (so the in-span log has real ids);
    # it only exports when traces are selected.
    tracer_provider = TracerProvider(resource=resource)
    if "traces" in args.signals:
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exp, export_timeout_millis=flush_ms))
    meter_provider = None
    if "metrics" in args.signals:
        # math.inf: no background collection; force_flush collects and exports once.
        reader = PeriodicExportingMetricReader(
            metric_exp, export_interval_millis=math.inf, export_timeout_millis=flush_ms
        )
        meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = None
    if "logs" in args.signals:
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(log_exp, export_timeout_millis=flush_ms)
        )

    tracer = tracer_provider.get_tracer(*SCOPE)
    logger = logger_provider.get_logger(*SCOPE) if logger_provider else None
    bodies: list[str] = []

    def emit_log(body: str, **kwargs) -> None:
        if logger is not None:
            logger.emit(body=body, **kwargs)
            bodies.append(body)

    emit_log(
        "py warning log",
        severity_number=SeverityNumber.WARN,
        severity_text="WARNING",
        attributes={"py.log.attr": "warn-value", "py.log.count": 1},
    )

    root_attributes = {
        "py.str": "hello",
        "py.bool": True,
        "py.int": 42,
        "py.float": 3.5,
        "py.str_list": ["a", "b"],
        "py.int_list": [1, 2, 3],
        "py.float_list": [1.5, 2.5],
        "py.bool_list": [True, False],
    }
    with tracer.start_as_current_span("py-root", kind=SpanKind.SERVER, attributes=root_attributes) as root:
        root.add_event("py-event", {"py.event.attr": "event-value"})
        emit_log("py log in span", severity_number=SeverityNumber.INFO, severity_text="INFO")
        with tracer.start_as_current_span("py-child", kind=SpanKind.CLIENT) as child:
            child.set_attribute("py.child", True)
            child.set_status(Status(StatusCode.ERROR, "py failed"))
    root_ctx = root.get_span_context()

    if logger is not None:
        import inspect

        if "event_name" in inspect.signature(logger.emit).parameters:
            emit_log(
                "py event log",
                event_name="py.event",
                severity_number=SeverityNumber.INFO,
                attributes={"py.event.kind": "test"},
            )

    if meter_provider is not None:
        meter = meter_provider.get_meter(*SCOPE)
        counter = meter.create_counter("py.counter", unit="1", description="py counter")
        counter.add(3, {"k": "v"})
        counter.add(4, {"k": "v"})
        histogram = meter.create_histogram("py.histogram", unit="ms", description="py histogram")
        for value in (1, 5, 50):
            histogram.record(value)
        updown = meter.create_up_down_counter("py.updown", unit="1", description="py up-down counter")
        updown.add(5)
        updown.add(-2)
        meter.create_observable_gauge(
            "py.gauge", callbacks=[lambda _options: [Observation(42.5)]], unit="1", description="py gauge"
        )

    flushed = {}
    flushed["traces"] = tracer_provider.force_flush(flush_ms)
    if meter_provider is not None:
        try:
            flushed["metrics"] = meter_provider.force_flush(flush_ms)
        except Exception as err:  # the SDK raises when a reader fails
            print(f"sdk_send: metrics force_flush failed: {err}", file=sys.stderr)
            flushed["metrics"] = False
    if logger_provider is not None:
        flushed["logs"] = logger_provider.force_flush(flush_ms)
    tracer_provider.shutdown()
    if meter_provider is not None:
        meter_provider.shutdown(timeout_millis=flush_ms)
    if logger_provider is not None:
        logger_provider.shutdown()

    summary: dict = {"protocol": args.protocol, "compression": args.compression, "service_name": SERVICE_NAME}
    if "traces" in args.signals:
        summary["traces"] = {"spans": len(SPAN_NAMES), "names": list(SPAN_NAMES)}
    if "metrics" in args.signals:
        summary["metrics"] = {"names": list(METRIC_NAMES)}
    if "logs" in args.signals:
        summary["logs"] = {"records": len(bodies), "bodies": bodies}
    summary["trace_id"] = format(root_ctx.trace_id, "032x")
    summary["root_span_id"] = format(root_ctx.span_id, "016x")
    summary["flushed"] = flushed
    return summary


def check(summary: dict, results: Results, signals: list[str]) -> list[str]:
    """Return a list of problems (empty when every export succeeded)."""
    expected_items = {
        "traces": len(SPAN_NAMES),
        "metrics": len(METRIC_NAMES),
        "logs": summary.get("logs", {}).get("records", 0),
    }
    problems = []
    for signal in signals:
        calls = results.calls[signal]
        if not calls:
            problems.append(f"{signal}: exporter was never called")
            continue
        failed = sum(1 for ok, _ in calls if not ok)
        if failed:
            problems.append(f"{signal}: {failed} of {len(calls)} export(s) failed")
        sent = sum(items for ok, items in calls if ok)
        if sent < expected_items[signal]:
            problems.append(f"{signal}: exported {sent} item(s), expected {expected_items[signal]}")
        if summary["flushed"].get(signal) is False:
            problems.append(f"{signal}: force_flush returned False")
    return problems


def main() -> int:
    args = parse_args()

    def on_deadline():
        print(f"sdk_send: deadline of {args.deadline}s exceeded, aborting", file=sys.stderr, flush=True)
        os._exit(3)

    watchdog = threading.Timer(args.deadline, on_deadline)
    watchdog.daemon = True
    watchdog.start()

    results = Results()
    summary = run_workload(args, results)
    summary["exports"] = {s: len(results.calls[s]) for s in args.signals}
    problems = check(summary, results, args.signals)
    watchdog.cancel()
    print(json.dumps(summary), flush=True)
    if problems:
        for problem in problems:
            print(f"sdk_send: FAILED: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
