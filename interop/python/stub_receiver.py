"""OTLP test receiver built only from the official opentelemetry-proto stubs.

Runs in the py-sdk virtualenv. It serves, on 127.0.0.1 only:

* gRPC (grpcio): TraceService, MetricsService, LogsService and
  ProfilesService (v1development) ``Export``;
* HTTP/1.1 (http.server): ``POST /v1/traces``, ``/v1/metrics``, ``/v1/logs``
  and ``/v1development/profiles`` with ``application/x-protobuf`` bodies
  (``application/json`` OTLP/JSON bodies are accepted too).

Every accepted request is decoded with the stub message classes, converted
to OTLP/JSON and appended as one line to ``--out``::

    {"signal": "traces|metrics|logs|profiles", "transport": "grpc|http",
     "encoding": "gzip|zstd|deflate|identity", "content_type": "...",
     "request": <OTLP/JSON of the Export*ServiceRequest>}

OTLP/JSON here means: lowerCamelCase keys, enums as integers, 64-bit
integers as decimal strings (protobuf's JSON mapping), and trace/span/profile
ids as lowercase hex instead of base64. Default-valued fields are omitted.

The reply is an empty Export*ServiceResponse. A body that cannot be decoded
gets HTTP 400 / gRPC INVALID_ARGUMENT and is not written to ``--out``.

Compression:

* HTTP: ``Content-Encoding`` gzip, deflate, identity (or none), and zstd when
  the ``zstandard`` module is importable; anything else gets HTTP 415.
* gRPC: grpcio's core only knows identity, deflate and gzip; a request with
  ``grpc-encoding: zstd`` is refused by grpc core itself (status INTERNAL,
  "Error parsing 'grpc-encoding' metadata") before it reaches this code, so
  gRPC zstd is NOT supported. To learn which encoding a gRPC client used
  (grpcio hides the grpc-encoding header) the server runs with
  ``grpc.per_message_decompression`` off, gets the raw message bytes, and
  decompresses them itself, recognising gzip/zlib/zstd by their magic bytes
  (a valid OTLP request can never start with those bytes). ``encoding`` is
  therefore what was on the wire: grpc-core clients send a message
  uncompressed, even with gzip configured, when compressing would not
  shrink it.

For that reason the gRPC services are registered as generic handlers taking
raw bytes (service and method names come from the stubs' descriptors) rather
than through ``add_*Servicer_to_server``, whose deserializer would also turn
an undecodable body into INTERNAL instead of INVALID_ARGUMENT.

Usage: stub_receiver.py --grpc-port 0 --http-port 0 --out FILE
Prints exactly one line ``READY grpc=<port> http=<port>`` once both servers
listen, then runs until SIGTERM/SIGINT, on which it stops cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gzip
import http.server
import json
import signal
import sys
import threading
import zlib
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

try:  # optional: zstd for HTTP Content-Encoding
    import zstandard
except ImportError:  # pragma: no cover - depends on the venv
    zstandard = None

HOST = "127.0.0.1"
MAX_BODY = 64 * 1024 * 1024
# Bytes fields holding ids, rendered as hex in OTLP/JSON (Span, Span.Link,
# Exemplar, LogRecord, profiles Link and Profile). Other bytes fields
# (AnyValue.bytesValue, Profile.originalPayload) stay base64.
HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "profileId"})


@dataclass(frozen=True)
class Signal:
    name: str  # "traces", ...
    http_path: str
    service: str  # fully-qualified gRPC service name
    request_cls: type
    response_cls: type


def _signal(name, path, module, service, request, response) -> Signal:
    full_name = module.DESCRIPTOR.services_by_name[service].full_name
    return Signal(name, path, full_name, getattr(module, request), getattr(module, response))


SIGNALS = [
    _signal("traces", "/v1/traces", trace_service_pb2, "TraceService",
            "ExportTraceServiceRequest", "ExportTraceServiceResponse"),
    _signal("metrics", "/v1/metrics", metrics_service_pb2, "MetricsService",
            "ExportMetricsServiceRequest", "ExportMetricsServiceResponse"),
    _signal("logs", "/v1/logs", logs_service_pb2, "LogsService",
            "ExportLogsServiceRequest", "ExportLogsServiceResponse"),
    _signal("profiles", "/v1development/profiles", profiles_service_pb2, "ProfilesService",
            "ExportProfilesServiceRequest", "ExportProfilesServiceResponse"),
]
SIGNALS_BY_PATH = {s.http_path: s for s in SIGNALS}


class BadRequest(Exception):
    """The body could not be decompressed or decoded."""


# --------------------------------------------------------------------------
# OTLP/JSON conversion


def _map_ids(value, convert):
    """Recursively apply ``convert`` to the id fields of a JSON-like value."""
    if isinstance(value, dict):
        return {
            k: convert(v) if k in HEX_ID_FIELDS and isinstance(v, str) else _map_ids(v, convert)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_map_ids(v, convert) for v in value]
    return value


def _b64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()


def _hex_to_b64(text: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(text)).decode()
    except ValueError as err:
        raise BadRequest(f"id is not hex: {text!r}") from err


def to_otlp_json(message: Message) -> dict:
    as_dict = json_format.MessageToDict(
        message, preserving_proto_field_name=False, use_integers_for_enums=True
    )
    return _map_ids(as_dict, _b64_to_hex)


def from_otlp_json(body: bytes, cls: type) -> Message:
    """Parse an OTLP/JSON body (hex ids) into a stub message."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"invalid JSON: {err}") from err
    if not isinstance(data, dict):
        raise BadRequest("JSON body is not an object")
    message = cls()
    try:
        json_format.ParseDict(_map_ids(data, _hex_to_b64), message, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        raise BadRequest(f"invalid OTLP/JSON: {err}") from err
    return message


def from_protobuf(body: bytes, cls: type) -> Message:
    message = cls()
    try:
        message.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as err:
        raise BadRequest(f"invalid protobuf: {err}") from err
    return message


# --------------------------------------------------------------------------
# decompression


def decompress(data: bytes, encoding: str) -> bytes:
    try:
        if encoding == "identity":
            return data
        if encoding == "gzip":
            return gzip.decompress(data)
        if encoding == "deflate":
            return zlib.decompress(data)
        if encoding == "zstd" and zstandard is not None:
            return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except Exception as err:  # gzip/zlib/zstandard each raise their own errors
        raise BadRequest(f"cannot decompress {encoding} body: {err}") from err
    raise BadRequest(f"unsupported encoding {encoding!r}")


def sniff_grpc_encoding(data: bytes) -> str:
    """Guess the grpc-encoding of a raw (still compressed) gRPC message."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if len(data) >= 2 and data[0] == 0x78 and ((data[0] << 8) | data[1]) % 31 == 0:
        return "deflate"
    return "identity"


# --------------------------------------------------------------------------
# output


class Recorder:
    """Appends one JSON line per accepted request to the output file."""

    def __init__(self, path: str):
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def record(self, signal_name, transport, encoding, content_type, message):
        line = json.dumps(
            {
                "signal": signal_name,
                "transport": transport,
                "encoding": encoding,
                "content_type": content_type,
                "request": to_otlp_json(message),
            },
            separators=(",", ":"),
        )
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self):
        with self._lock:
            self._file.close()


def log(msg: str) -> None:
    print(f"stub_receiver: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# gRPC


def _grpc_handler(sig: Signal, recorder: Recorder):
    def export(raw: bytes, context: grpc.ServicerContext):
        encoding = sniff_grpc_encoding(raw)
        try:
            body = decompress(raw, encoding)
            message = from_protobuf(body, sig.request_cls)
        except BadRequest as err:
            log(f"grpc {sig.name}: rejected: {err}")
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        recorder.record(sig.name, "grpc", encoding, "application/grpc", message)
        return sig.response_cls()

    method = grpc.unary_unary_rpc_method_handler(
        export,
        request_deserializer=None,  # raw bytes, see module docstring
        response_serializer=sig.response_cls.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(sig.service, {"Export": method})


def start_grpc(port: int, recorder: Recorder) -> tuple[grpc.Server, int]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        handlers=[_grpc_handler(s, recorder) for s in SIGNALS],
        options=[
            ("grpc.per_message_decompression", 0),
            ("grpc.max_receive_message_length", MAX_BODY),
            ("grpc.so_reuseport", 0),
        ],
    )
    bound = server.add_insecure_port(f"{HOST}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {HOST}:{port}")
    server.start()
    return server, bound


# --------------------------------------------------------------------------
# HTTP


class OtlpHttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otlp-stub-receiver"
    recorder: Recorder  # set on the subclass built in start_http

    def log_message(self, format, *args):  # noqa: A002 - quiet access log
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, text: str) -> None:
        log(f"http {self.path}: {status} {text}")
        self.close_connection = True
        self._reply(status, text.encode() + b"\n", "text/plain; charset=utf-8")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # skip trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BadRequest("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length", "0"))
        if length > MAX_BODY:
            raise BadRequest("body too large")
        return self.rfile.read(length)

    def do_GET(self):  # noqa: N802
        self._error(405, "only POST is supported")

    def do_POST(self):  # noqa: N802
        try:
            raw = self._read_body()
        except (BadRequest, ValueError) as err:
            self._error(400, f"cannot read body: {err}")
            return
        path = self.path.split("?", 1)[0]
        sig = SIGNALS_BY_PATH.get(path)
        if sig is None:
            self._error(404, f"unknown path {path}")
            return
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ("application/x-protobuf", "application/json"):
            self._error(415, f"unsupported content type {content_type!r}")
            return
        encoding = self.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        supported = {"identity", "gzip", "deflate"} | ({"zstd"} if zstandard else set())
        if encoding not in supported:
            self._error(415, f"unsupported content encoding {encoding!r}")
            return
        try:
            body = decompress(raw, encoding)
            if content_type == "application/json":
                message = from_otlp_json(body, sig.request_cls)
            else:
                message = from_protobuf(body, sig.request_cls)
        except BadRequest as err:
            self._error(400, str(err))
            return
        self.recorder.record(sig.name, "http", encoding, content_type, message)
        if content_type == "application/json":
            self._reply(200, b"{}", "application/json")
        else:
            self._reply(200, sig.response_cls().SerializeToString(), "application/x-protobuf")


def start_http(port: int, recorder: Recorder) -> http.server.ThreadingHTTPServer:
    handler = type("BoundOtlpHttpHandler", (OtlpHttpHandler,), {"recorder": recorder})
    server = http.server.ThreadingHTTPServer((HOST, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


# --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grpc-port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--http-port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--out", required=True, help="file to append JSON lines to")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    recorder = Recorder(args.out)
    grpc_server, grpc_port = start_grpc(args.grpc_port, recorder)
    http_server = start_http(args.http_port, recorder)
    print(f"READY grpc={grpc_port} http={http_server.server_address[1]}", flush=True)

    while not stop.wait(0.5):
        pass
    log("stopping")
    http_server.shutdown()
    http_server.server_close()
    grpc_server.stop(grace=2).wait(5)
    recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
