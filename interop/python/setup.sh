#!/usr/bin/env bash
# Create (or reuse) the two Python virtualenvs used as OTLP interop peers.
#
#   py-sdk  : requirements-sdk.txt  (SDK + proto exporters + stubs + grpcio)
#   py-json : requirements-json.txt (SDK + OTLP/JSON HTTP exporter)
#
# Location: ${OTLP_PEERS_DIR:-<repo>/target/peers}/{py-sdk,py-json}
# Interpreter used to create them: ${PYTHON:-python3} (needs >= 3.10).
#
# Idempotent: a venv is reused when its stamp file holds the sha256 of its
# requirements file and its key modules import; otherwise it is rebuilt.
# pip's normal cache is used (PIP_CACHE_DIR or ~/.cache/pip).
# Concurrent runs are serialised with flock on <peers>/.setup.lock.
#
# Output: progress lines ("[setup] ...", one per step, with elapsed seconds)
# go to stderr; stdout gets exactly two lines at the end:
#   PY_SDK=<path to py-sdk python>
#   PY_JSON=<path to py-json python>
# On failure: "[setup] FAILED step '<name>' ..." on stderr, exit code != 0.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${OTLP_PEERS_DIR:-$REPO/target/peers}"
PYTHON="${PYTHON:-python3}"
PIP_TIMEOUT="${OTLP_PIP_TIMEOUT:-900}" # seconds, bound for one pip install
export PIP_DISABLE_PIP_VERSION_CHECK=1

START=$SECONDS
log() { echo "[setup] $*" >&2; }

# run_step NAME CMD... : run CMD with its output in a log file; print one line
# with the elapsed time; on failure print the tail of the log and exit.
run_step() {
    local name="$1"
    shift
    local t0=$SECONDS rc=0
    local steplog="$PEERS_DIR/logs/${name//[^A-Za-z0-9_.-]/_}.log"
    "$@" >"$steplog" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "FAILED step '$name' (exit $rc, $((SECONDS - t0))s); last lines of $steplog:"
        tail -n 30 "$steplog" | sed 's/^/[setup]   /' >&2
        exit "$rc"
    fi
    log "$name: ok ($((SECONDS - t0))s, total $((SECONDS - START))s)"
}

fail() {
    log "FAILED step '$1': $2"
    exit 1
}

check_python() {
    command -v "$PYTHON" >/dev/null 2>&1 || fail check-python "'$PYTHON' not found (set PYTHON=...)"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
        fail check-python "$("$PYTHON" --version 2>&1) is too old, need >= 3.10"
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 ||
        fail check-python "'$PYTHON' lacks venv/ensurepip (apt-get install python3-venv)"
    log "check-python: $("$PYTHON" --version 2>&1) ok ($((SECONDS - START))s)"
}

# ensure_venv NAME REQUIREMENTS IMPORT_CHECK
ensure_venv() {
    local name="$1" req="$2" check="$3"
    local venv="$PEERS_DIR/$name"
    local stamp="$venv/.requirements.sha256"
    local want
    want="$(sha256sum "$req" | cut -d' ' -f1)"

    if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        if "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
            log "$name: up to date, skipped ($((SECONDS - START))s)"
            return 0
        fi
        log "$name: stamp matches but imports fail, rebuilding"
    fi

    rm -rf "$venv"
    run_step "$name-venv" "$PYTHON" -m venv "$venv"
    run_step "$name-pip-install" timeout "$PIP_TIMEOUT" \
        "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req"
    run_step "$name-import-check" "$venv/bin/python" -c "$check"
    echo "$want" >"$stamp"
}

mkdir -p "$PEERS_DIR/logs"
exec 9>"$PEERS_DIR/.setup.lock"
if command -v flock >/dev/null 2>&1; then
    timeout_lock=$((PIP_TIMEOUT * 2 + 60))
    flock -w "$timeout_lock" 9 || fail lock "another setup.sh held $PEERS_DIR/.setup.lock for ${timeout_lock}s"
fi

check_python
ensure_venv py-sdk "$HERE/requirements-sdk.txt" '
import grpc, zstandard, google.protobuf
import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs
import opentelemetry.exporter.otlp.proto.grpc.trace_exporter
import opentelemetry.exporter.otlp.proto.http.trace_exporter
import opentelemetry.proto.collector.profiles.v1development.profiles_service_pb2
'
ensure_venv py-json "$HERE/requirements-json.txt" '
import opentelemetry.sdk.trace, opentelemetry.sdk.metrics, opentelemetry.sdk._logs
import opentelemetry.exporter.otlp.json.http.trace_exporter
import opentelemetry.exporter.otlp.json.http.metric_exporter
import opentelemetry.exporter.otlp.json.http._log_exporter
'
log "done ($((SECONDS - START))s)"
echo "PY_SDK=$PEERS_DIR/py-sdk/bin/python"
echo "PY_JSON=$PEERS_DIR/py-json/bin/python"
