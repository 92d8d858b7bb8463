"""Send metrics of every kind through the real OpenTelemetry Python SDK and write what was sent.

The peer of the metrics interop tests (crates/otlp-interop/tests/python_metrics.rs): the SDK's
MeterProvider with a reader around the official OTLP metric exporter of ``--protocol`` (made by
sdk_send.make_exporters, so the same exporters and venvs as sdk_send.py), and the exporter's
``preferred_temporality`` from ``--temporality``:

* cumulative: every instrument cumulative (the SDK default);
* delta: counters, histograms and observable counters delta; up-down counters (sync and
  observable) cumulative, as the specification's "delta" preference says.

Workload (resource service.name="py-metrics", peer.lang="python"; scope "py-metrics.scope"
0.2.0), recorded in two collection cycles, each ended by force_flush (one export per cycle):

* counter "pym.requests" (unit "{request}", int) with route/code attributes;
* up-down counter "pym.queue" (unit "{item}", int), up and down;
* histogram "pym.latency" (unit "ms", float) with a View of explicit boundaries
  0, 5, 10, 25, 50 (values on a boundary included);
* histogram "pym.size" (unit "By", int) with a View of ExponentialBucketHistogramAggregation
  (max_size 20, so that the range of the values forces the scale down; zeros counted apart);
* gauge "pym.temperature" (unit "Cel", float): the synchronous create_gauge when the SDK has it,
  else an observable gauge reporting the same values;
* observable counter "pym.cpu_time" (unit "s", float), reporting cumulative totals.

``--out FILE`` gets one JSON object: ``recorded`` (every value given to the API, in order:
cycle, instrument, value, attributes) and ``exports`` (for each export, what the SDK handed
the exporter: resource, scope and every metric with every point, field by field). stdout gets
one summary line. Exit 0 only if both exports succeeded; 1 otherwise; 2 usage error or wrong
interpreter; 3 ``--deadline`` hit.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from sdk_send import make_exporters

SERVICE_NAME = "py-metrics"
SCOPE = ("py-metrics.scope", "0.2.0")
LATENCY_BOUNDARIES = [0.0, 5.0, 10.0, 25.0, 50.0]
EXPONENTIAL_MAX_SIZE = 20

# cycle -> [(instrument, value, attributes)]; observable values are reported by callbacks.
WORKLOAD = {
    1: [
        ("pym.requests", 3, {"route": "/a", "code": 200}),
        ("pym.requests", 4, {"route": "/a", "code": 200}),
        ("pym.requests", 10, {"route": "/b", "code": 500}),
        ("pym.queue", 5, {"queue": "q1"}),
        ("pym.queue", -2, {"queue": "q1"}),
        ("pym.latency", 1.0, {"route": "/a"}),
        ("pym.latency", 5.0, {"route": "/a"}),
        ("pym.latency", 7.5, {"route": "/a"}),
        ("pym.latency", 30.0, {"route": "/a"}),
        ("pym.latency", 100.0, {"route": "/a"}),
        ("pym.size", 0, {"kind": "blob"}),
        ("pym.size", 1, {"kind": "blob"}),
        ("pym.size", 2, {"kind": "blob"}),
        ("pym.size", 3, {"kind": "blob"}),
        ("pym.size", 4, {"kind": "blob"}),
        ("pym.size", 1000, {"kind": "blob"}),
        ("pym.temperature", 21.5, {"room": "lab"}),
        ("pym.cpu_time", 1.5, {"cpu": "0"}),
    ],
    2: [
        ("pym.requests", 5, {"route": "/a", "code": 200}),
        ("pym.queue", -1, {"queue": "q1"}),
        ("pym.queue", 7, {"queue": "q2"}),
        ("pym.latency", 0.0, {"route": "/a"}),
        ("pym.latency", 50.0, {"route": "/a"}),
        ("pym.size", 8, {"kind": "blob"}),
        ("pym.size", 0, {"kind": "blob"}),
        ("pym.size", 5000, {"kind": "blob"}),
        ("pym.temperature", 22.25, {"room": "lab"}),
        ("pym.cpu_time", 4.0, {"cpu": "0"}),
    ],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint", required=True, help="http://127.0.0.1:PORT (gRPC target or HTTP base URL)")
    parser.add_argument("--protocol", choices=["grpc", "http/protobuf", "http/json"], default="grpc")
    parser.add_argument("--temporality", choices=["cumulative", "delta"], default="cumulative")
    parser.add_argument("--out", required=True, help="file for the JSON of what was recorded and sent")
    parser.add_argument("--compression", choices=["none", "gzip"], default="none")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-export timeout, seconds")
    parser.add_argument("--deadline", type=float, default=60.0, help="hard limit for the whole run, seconds")
    return parser.parse_args()


def preferred_temporality(temporality: str) -> dict:
    from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter, ObservableUpDownCounter, UpDownCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    if temporality == "cumulative":
        return {}
    delta, cumulative = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
    return {
        Counter: delta,
        Histogram: delta,
        ObservableCounter: delta,
        UpDownCounter: cumulative,
        ObservableUpDownCounter: cumulative,
    }


# --------------------------------------------------------------------------
# what the SDK handed the exporter, as plain JSON


def number(value) -> dict:
    # The OTLP exporters send a Python int as asInt and anything else as asDouble.
    if isinstance(value, int) and not isinstance(value, bool):
        return {"as_int": value}
    return {"as_double": float(value)}


def point_to_dict(point) -> dict:
    out = {
        "attributes": dict(point.attributes or {}),
        "start_time_unix_nano": point.start_time_unix_nano,
        "time_unix_nano": point.time_unix_nano,
    }
    if hasattr(point, "scale"):  # ExponentialHistogramDataPoint
        out.update(
            count=point.count,
            sum=point.sum,
            scale=point.scale,
            zero_count=point.zero_count,
            positive={"offset": point.positive.offset, "bucket_counts": list(point.positive.bucket_counts)},
            negative={"offset": point.negative.offset, "bucket_counts": list(point.negative.bucket_counts)},
            flags=point.flags,
            min=point.min,
            max=point.max,
        )
    elif hasattr(point, "explicit_bounds"):  # HistogramDataPoint
        out.update(
            count=point.count,
            sum=point.sum,
            bucket_counts=list(point.bucket_counts),
            explicit_bounds=list(point.explicit_bounds),
            min=point.min,
            max=point.max,
        )
    else:  # NumberDataPoint
        out["value"] = number(point.value)
    return out


def metric_to_dict(metric) -> dict:
    from opentelemetry.sdk.metrics.export import ExponentialHistogram, Gauge, Histogram, Sum

    data = metric.data
    out = {"name": metric.name, "description": metric.description or "", "unit": metric.unit or ""}
    if isinstance(data, Sum):
        out.update(kind="sum", temporality=int(data.aggregation_temporality.value), is_monotonic=data.is_monotonic)
    elif isinstance(data, Gauge):
        out["kind"] = "gauge"
    elif isinstance(data, Histogram):
        out.update(kind="histogram", temporality=int(data.aggregation_temporality.value))
    elif isinstance(data, ExponentialHistogram):
        out.update(kind="exponential_histogram", temporality=int(data.aggregation_temporality.value))
    else:
        raise TypeError(f"unexpected metric data {type(data).__name__}")
    out["points"] = [point_to_dict(p) for p in data.data_points]
    return out


def metrics_data_to_dict(metrics_data) -> dict:
    return {
        "resource_metrics": [
            {
                "resource": dict(rm.resource.attributes),
                "scope_metrics": [
                    {
                        "scope": {"name": sm.scope.name, "version": sm.scope.version or ""},
                        "metrics": [metric_to_dict(m) for m in sm.metrics],
                    }
                    for sm in rm.scope_metrics
                ],
            }
            for rm in metrics_data.resource_metrics
        ]
    }


# --------------------------------------------------------------------------
# workload


def run(args) -> dict:
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import (
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
        View,
    )
    from opentelemetry.sdk.resources import Resource

    try:
        _, metric_exp, _ = make_exporters(
            args.protocol,
            args.endpoint,
            args.compression,
            args.timeout,
            metric_options={"preferred_temporality": preferred_temporality(args.temporality)},
        )
    except ImportError as err:
        venv = "py-json" if args.protocol == "http/json" else "py-sdk"
        print(f"sdk_metrics: --protocol {args.protocol} must run with the {venv} interpreter: {err}", file=sys.stderr)
        sys.exit(2)

    exports: list[dict] = []
    results: list[bool] = []

    class RecordingMetricExporter(MetricExporter):
        """The real exporter, and a copy of what it was given."""

        def __init__(self):
            super().__init__(
                preferred_temporality=metric_exp._preferred_temporality,
                preferred_aggregation=metric_exp._preferred_aggregation,
            )

        def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
            exports.append(metrics_data_to_dict(metrics_data))
            result = metric_exp.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            results.append(result == MetricExportResult.SUCCESS)
            return result

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return metric_exp.force_flush(timeout_millis=timeout_millis)

        def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
            metric_exp.shutdown(timeout_millis=timeout_millis, **kwargs)

    flush_ms = int(args.timeout * 1000) + 5000
    # math.inf: no background collection; each force_flush collects and exports once.
    reader = PeriodicExportingMetricReader(
        RecordingMetricExporter(), export_interval_millis=float("inf"), export_timeout_millis=flush_ms
    )
    # Instruments no view matches keep their default aggregation.
    views = [
        View(instrument_name="pym.latency", aggregation=ExplicitBucketHistogramAggregation(LATENCY_BOUNDARIES)),
        View(instrument_name="pym.size", aggregation=ExponentialBucketHistogramAggregation(max_size=EXPONENTIAL_MAX_SIZE)),
    ]
    provider = MeterProvider(
        resource=Resource.create({"service.name": SERVICE_NAME, "peer.lang": "python"}),
        metric_readers=[reader],
        views=views,
    )
    meter = provider.get_meter(*SCOPE)

    requests = meter.create_counter("pym.requests", unit="{request}", description="requests served")
    queue = meter.create_up_down_counter("pym.queue", unit="{item}", description="items queued")
    latency = meter.create_histogram("pym.latency", unit="ms", description="request latency")
    size = meter.create_histogram("pym.size", unit="By", description="payload size")
    state = {"cycle": 1}

    def observed(name):
        return [
            Observation(value, attributes)
            for instrument, value, attributes in WORKLOAD[state["cycle"]]
            if instrument == name
        ]

    def cpu_time(_options: CallbackOptions):
        return observed("pym.cpu_time")

    meter.create_observable_counter("pym.cpu_time", callbacks=[cpu_time], unit="s", description="cpu time used")
    sync_gauge = hasattr(meter, "create_gauge")
    if sync_gauge:
        temperature = meter.create_gauge("pym.temperature", unit="Cel", description="room temperature")
    else:

        def temperature_cb(_options: CallbackOptions):
            return observed("pym.temperature")

        meter.create_observable_gauge(
            "pym.temperature", callbacks=[temperature_cb], unit="Cel", description="room temperature"
        )
    sync = {"pym.requests": requests.add, "pym.queue": queue.add, "pym.latency": latency.record, "pym.size": size.record}
    if sync_gauge:
        sync["pym.temperature"] = temperature.set

    recorded = []
    flushed = []
    for cycle in sorted(WORKLOAD):
        state["cycle"] = cycle
        for instrument, value, attributes in WORKLOAD[cycle]:
            if instrument in sync:
                sync[instrument](value, attributes)
            recorded.append({"cycle": cycle, "instrument": instrument, "value": value, "attributes": attributes})
        try:
            flushed.append(provider.force_flush(flush_ms))
        except Exception as err:  # the SDK raises when a reader fails
            print(f"sdk_metrics: force_flush of cycle {cycle} failed: {err}", file=sys.stderr)
            flushed.append(False)
    provider.shutdown(timeout_millis=flush_ms)

    with open(args.out, "w", encoding="utf-8") as out:
        json.dump({"recorded": recorded, "exports": exports}, out)
    return {
        "protocol": args.protocol,
        "temporality": args.temporality,
        "sync_gauge": sync_gauge,
        "exports": len(exports),
        "succeeded": sum(results),
        "flushed": flushed,
    }


def main() -> int:
    args = parse_args()

    def on_deadline():
        print(f"sdk_metrics: deadline of {args.deadline}s exceeded, aborting", file=sys.stderr, flush=True)
        os._exit(3)

    watchdog = threading.Timer(args.deadline, on_deadline)
    watchdog.daemon = True
    watchdog.start()
    summary = run(args)
    watchdog.cancel()
    print(json.dumps(summary), flush=True)
    cycles = len(WORKLOAD)
    if summary["exports"] != cycles or summary["succeeded"] != cycles or not all(summary["flushed"]):
        print(f"sdk_metrics: FAILED: expected {cycles} successful exports: {summary}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
