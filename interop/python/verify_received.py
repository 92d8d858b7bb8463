"""Checks used by check_peers.sh (the self-test of the Python peer scripts).

Two sub-commands, both run with the py-sdk interpreter:

``sent``  -- compare what one sdk_send.py run reported (its stdout summary)
with the lines stub_receiver.py appended to its --out file after line
``--skip``; checks transport, encoding, span/metric/log names, values,
hex ids and parent links.

``extras`` -- poke a running stub_receiver.py directly: undecodable bodies
(HTTP 400, gRPC INVALID_ARGUMENT), unknown path (404), HTTP zstd and deflate,
an OTLP/JSON body with hex ids, gRPC deflate, and profiles (v1development)
over both transports with their ids rendered as hex.

Prints one "ok: ..." line per check; on the first failed check prints
"FAIL: ..." and exits 1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
import urllib.error
import urllib.request
import zlib

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def ok(msg: str) -> None:
    print(f"ok: {msg}", flush=True)


def fail(msg: str) -> None:
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def expect(cond: bool, msg: str) -> None:
    if not cond:
        fail(msg)


def read_lines(path: str, skip: int, want_signals: set[str], timeout: float = 10.0) -> list[dict]:
    """Lines after `skip`, waiting (bounded) until every wanted signal is there."""
    deadline = time.monotonic() + timeout
    while True:
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(line) for line in f.read().splitlines()[skip:] if line.strip()]
        if want_signals <= {line["signal"] for line in lines} or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def attrs(obj: dict) -> dict:
    return {kv["key"]: kv.get("value", {}) for kv in obj.get("attributes", [])}


def items(lines, signal, resource_key, scope_key, item_key):
    for line in lines:
        if line["signal"] != signal:
            continue
        for resource in line["request"].get(resource_key, []):
            for scope in resource.get(scope_key, []):
                for item in scope.get(item_key, []):
                    yield resource, item


# --------------------------------------------------------------------------


def check_sent(args) -> None:
    summary = json.loads(args.summary)
    signals = {s for s in ("traces", "metrics", "logs") if s in summary}
    lines = read_lines(args.out, args.skip, signals)
    label = f"[{args.transport} {args.encoding} {args.content_type}]"
    expect(lines, f"{label} receiver wrote no lines")
    for line in lines:
        got = (line["transport"], line["encoding"], line["content_type"])
        want = (args.transport, args.encoding, args.content_type)
        expect(got == want, f"{label} line for {line['signal']} has {got}, expected {want}")
    expect({line["signal"] for line in lines} == signals,
           f"{label} signals {sorted({line['signal'] for line in lines})} != {sorted(signals)}")
    ok(f"{label} {len(lines)} request line(s), signals {sorted(signals)}")
    trace_id = summary["trace_id"]
    expect(bool(HEX32.match(trace_id)), f"summary trace_id {trace_id!r} is not 32 hex")

    if "traces" in signals:
        spans = {}
        for resource, span in items(lines, "traces", "resourceSpans", "scopeSpans", "spans"):
            res = attrs(resource["resource"])
            expect(res.get("service.name") == {"stringValue": "py-peer"}, f"{label} service.name: {res}")
            expect(res.get("peer.lang") == {"stringValue": "python"}, f"{label} peer.lang: {res}")
            spans[span["name"]] = span
        expect(sorted(spans) == sorted(summary["traces"]["names"]), f"{label} span names {sorted(spans)}")
        root, child = spans["py-root"], spans["py-child"]
        for span in (root, child):
            expect(span["traceId"] == trace_id, f"{label} {span['name']} traceId {span['traceId']} != {trace_id}")
            expect(bool(HEX16.match(span["spanId"])), f"{label} spanId {span['spanId']!r} not 16 hex")
        expect("parentSpanId" not in root, f"{label} root has a parentSpanId")
        expect(child.get("parentSpanId") == root["spanId"] == summary["root_span_id"],
               f"{label} child parentSpanId {child.get('parentSpanId')} != root {root['spanId']}")
        expect(root["kind"] == 2 and child["kind"] == 3, f"{label} kinds {root['kind']}, {child['kind']}")
        expect(child.get("status") == {"code": 2, "message": "py failed"}, f"{label} child status {child.get('status')}")
        a = attrs(root)
        expect(a.get("py.int") == {"intValue": "42"} and a.get("py.float") == {"doubleValue": 3.5}
               and a.get("py.bool") == {"boolValue": True} and a.get("py.str") == {"stringValue": "hello"}
               and "arrayValue" in a.get("py.str_list", {}) and "arrayValue" in a.get("py.int_list", {}),
               f"{label} root attributes {a}")
        expect([e["name"] for e in root.get("events", [])] == ["py-event"], f"{label} root events")
        ok(f"{label} traces: {sorted(spans)}, trace id {trace_id}, parent link, kinds, status, attributes")

    if "metrics" in signals:
        metrics = {m["name"]: m for _, m in items(lines, "metrics", "resourceMetrics", "scopeMetrics", "metrics")}
        expect(sorted(metrics) == sorted(summary["metrics"]["names"]), f"{label} metric names {sorted(metrics)}")
        counter = metrics["py.counter"]["sum"]
        expect(counter["dataPoints"][0]["asInt"] == "7" and counter.get("isMonotonic") is True,
               f"{label} py.counter {counter}")
        expect(attrs(counter["dataPoints"][0]) == {"k": {"stringValue": "v"}}, f"{label} py.counter attrs")
        hist = metrics["py.histogram"]["histogram"]["dataPoints"][0]
        expect(hist["count"] == "3" and hist["sum"] == 56, f"{label} py.histogram {hist}")
        expect(metrics["py.updown"]["sum"]["dataPoints"][0]["asInt"] == "3", f"{label} py.updown")
        expect(metrics["py.gauge"]["gauge"]["dataPoints"][0]["asDouble"] == 42.5, f"{label} py.gauge")
        ok(f"{label} metrics: {sorted(metrics)} with expected values")

    if "logs" in signals:
        records = {r["body"]["stringValue"]: r for _, r in items(lines, "logs", "resourceLogs", "scopeLogs", "logRecords")}
        expect(sorted(records) == sorted(summary["logs"]["bodies"]), f"{label} log bodies {sorted(records)}")
        warn = records["py warning log"]
        expect(warn.get("severityNumber") == 13 and "py.log.attr" in attrs(warn), f"{label} warning log {warn}")
        in_span = records["py log in span"]
        expect(in_span.get("traceId") == trace_id, f"{label} in-span log traceId {in_span.get('traceId')}")
        expect(in_span.get("spanId") == summary["root_span_id"], f"{label} in-span log spanId {in_span.get('spanId')}")
        if "py event log" in records:
            expect(records["py event log"].get("eventName") == "py.event", f"{label} event log eventName")
        ok(f"{label} logs: {sorted(records)}, in-span log carries trace/span ids")


# --------------------------------------------------------------------------


def http_post(port, path, body, content_type="application/x-protobuf", encoding=None):
    headers = {"Content-Type": content_type}
    if encoding:
        headers["Content-Encoding"] = encoding
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def last_line(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.loads(f.read().splitlines()[-1])


def check_extras(args) -> None:
    import grpc
    import zstandard
    from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as prof_svc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_svc

    trace_id, span_id = bytes(range(1, 17)), bytes(range(0xA0, 0xA8))
    req = trace_svc.ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(name="extra-span " * 20, trace_id=trace_id, span_id=span_id)
    span.attributes.add(key="blob").value.bytes_value = b"\x00\x01"
    body = req.SerializeToString()

    status, _ = http_post(args.http_port, "/v1/traces", b"\xff\xfenot protobuf")
    expect(status == 400, f"http garbage protobuf -> {status}, expected 400")
    status, _ = http_post(args.http_port, "/v1/traces", gzip.compress(b"\xff\xfe"), encoding="gzip")
    expect(status == 400, f"http gzip garbage -> {status}, expected 400")
    status, _ = http_post(args.http_port, "/v1/traces", b"{not json", content_type="application/json")
    expect(status == 400, f"http garbage json -> {status}, expected 400")
    status, _ = http_post(args.http_port, "/v1/nothing", body)
    expect(status == 404, f"http unknown path -> {status}, expected 404")
    status, _ = http_post(args.http_port, "/v1/traces", body, encoding="br")
    expect(status == 415, f"http Content-Encoding br -> {status}, expected 415")
    ok("http: garbage protobuf/gzip/json -> 400, unknown path -> 404, unknown encoding -> 415")

    for encoding, packed in (("zstd", zstandard.ZstdCompressor().compress(body)), ("deflate", zlib.compress(body))):
        status, _ = http_post(args.http_port, "/v1/traces", packed, encoding=encoding)
        expect(status == 200, f"http {encoding} -> {status}")
        line = last_line(args.out)
        got = line["request"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        expect(line["encoding"] == encoding and got["traceId"] == trace_id.hex() and got["spanId"] == span_id.hex(),
               f"http {encoding} line {line}")
        expect(got["attributes"][0]["value"] == {"bytesValue": "AAE="}, f"bytesValue must stay base64: {got}")
    ok("http: zstd and deflate bodies decoded; ids hex, bytesValue stays base64")

    json_body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": trace_id.hex(), "spanId": span_id.hex(), "name": "json-span", "kind": 2,
         "startTimeUnixNano": "1", "unknownField": 1}]}]}]}).encode()
    status, reply = http_post(args.http_port, "/v1/traces", json_body, content_type="application/json")
    expect(status == 200 and reply == b"{}", f"http json -> {status} {reply!r}")
    got = last_line(args.out)["request"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    expect(got["traceId"] == trace_id.hex() and got["kind"] == 2 and got["startTimeUnixNano"] == "1",
           f"json round trip {got}")
    ok("http: OTLP/JSON body with hex ids round-trips")

    with grpc.insecure_channel(f"127.0.0.1:{args.grpc_port}") as channel:
        raw_export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            raw_export(b"\xff\xfenot protobuf", timeout=10)
            fail("grpc garbage was accepted")
        except grpc.RpcError as err:
            expect(err.code() == grpc.StatusCode.INVALID_ARGUMENT, f"grpc garbage -> {err.code()}")
        ok("grpc: garbage -> INVALID_ARGUMENT")

        # grpc core sends a message uncompressed when compression would not
        # shrink it, hence the repetitive (compressible) span name above.
        raw_export(body, timeout=10, compression=grpc.Compression.Deflate)
        line = last_line(args.out)
        expect(line["transport"] == "grpc" and line["encoding"] == "deflate", f"grpc deflate line {line}")
        ok("grpc: deflate-compressed request recorded as encoding=deflate")

        preq = prof_svc.ExportProfilesServiceRequest()
        preq.dictionary.link_table.add(trace_id=trace_id, span_id=span_id)
        profile = preq.resource_profiles.add().scope_profiles.add().profiles.add(profile_id=bytes(range(16)))
        profile.original_payload = b"\x01\x02"
        profile.original_payload_format = "compressible " * 20
        profiles_export = channel.unary_unary(
            "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
            request_serializer=prof_svc.ExportProfilesServiceRequest.SerializeToString,
            response_deserializer=prof_svc.ExportProfilesServiceResponse.FromString,
        )
        profiles_export(preq, timeout=10, compression=grpc.Compression.Gzip)
    status, _ = http_post(args.http_port, "/v1development/profiles", preq.SerializeToString())
    expect(status == 200, f"http profiles -> {status}")
    with open(args.out, encoding="utf-8") as f:
        prof_lines = [json.loads(x) for x in f.read().splitlines()[-2:]]
    expect([(x["signal"], x["transport"], x["encoding"]) for x in prof_lines]
           == [("profiles", "grpc", "gzip"), ("profiles", "http", "identity")], f"profiles lines {prof_lines}")
    for line in prof_lines:
        request = line["request"]
        link = request["dictionary"]["linkTable"][0]
        prof = request["resourceProfiles"][0]["scopeProfiles"][0]["profiles"][0]
        expect(link == {"traceId": trace_id.hex(), "spanId": span_id.hex()}, f"profiles link {link}")
        expect(prof["profileId"] == bytes(range(16)).hex(), f"profileId {prof['profileId']}")
        expect(prof["originalPayload"] == "AQI=", f"originalPayload must stay base64: {prof}")
    ok("profiles v1development over grpc (gzip) and http: profileId and link ids as hex")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sent = sub.add_parser("sent", help="check the lines produced by one sdk_send.py run")
    sent.add_argument("--out", required=True)
    sent.add_argument("--skip", type=int, default=0, help="lines of --out that predate the run")
    sent.add_argument("--summary", required=True, help="the JSON line sdk_send.py printed")
    sent.add_argument("--transport", required=True, choices=["grpc", "http"])
    sent.add_argument("--encoding", required=True)
    sent.add_argument("--content-type", required=True)
    extras = sub.add_parser("extras", help="probe a running stub_receiver.py directly")
    extras.add_argument("--out", required=True)
    extras.add_argument("--grpc-port", type=int, required=True)
    extras.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "sent":
        check_sent(args)
    else:
        check_extras(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
