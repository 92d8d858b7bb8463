#!/usr/bin/env bash
# Self-test of the Python interop peers; needs no Rust code.
#
#   1. setup.sh (both venvs)
#   2. start stub_receiver.py on free loopback ports
#   3. sdk_send.py over grpc and http/protobuf (none and gzip) with py-sdk,
#      and http/json (none and gzip) with py-json; verify_received.py checks
#      what the receiver recorded against each run's summary
#      sdk_metrics.py (every instrument kind; cumulative and delta) exits 0
#      with its two exports written, and 1 against a closed port
#   4. verify_received.py extras: error statuses, zstd/deflate, JSON bodies,
#      profiles
#
# Prints one line per check and "check_peers: N passed, 0 failed" at the end;
# exits non-zero on the first failure. Every wait is bounded.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/otlp-check-peers.XXXXXX")"
RECEIVER_PID=""
PASSED=0

cleanup() {
    if [ -n "$RECEIVER_PID" ] && kill -0 "$RECEIVER_PID" 2>/dev/null; then
        kill -TERM "$RECEIVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$RECEIVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$RECEIVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

die() {
    echo "check_peers: FAILED: $*" >&2
    if [ -f "$WORK/receiver.err" ]; then
        echo "--- receiver stderr ---" >&2
        tail -n 20 "$WORK/receiver.err" >&2
    fi
    echo "check_peers: $PASSED passed, 1 failed"
    exit 1
}

pass() {
    PASSED=$((PASSED + 1))
    echo "check_peers: ok: $*"
}

# 1. virtualenvs
bash "$HERE/setup.sh" >"$WORK/setup.out" || die "setup.sh failed"
PY_SDK="$(sed -n 's/^PY_SDK=//p' "$WORK/setup.out")"
PY_JSON="$(sed -n 's/^PY_JSON=//p' "$WORK/setup.out")"
[ -x "$PY_SDK" ] && [ -x "$PY_JSON" ] || die "setup.sh did not print PY_SDK/PY_JSON"
pass "setup.sh: PY_SDK=$PY_SDK PY_JSON=$PY_JSON"

# 2. receiver
OUT="$WORK/received.jsonl"
"$PY_SDK" "$HERE/stub_receiver.py" --grpc-port 0 --http-port 0 --out "$OUT" \
    >"$WORK/receiver.out" 2>"$WORK/receiver.err" &
RECEIVER_PID=$!
for _ in $(seq 150); do
    grep -q '^READY ' "$WORK/receiver.out" 2>/dev/null && break
    kill -0 "$RECEIVER_PID" 2>/dev/null || die "stub_receiver.py exited before READY"
    sleep 0.1
done
READY="$(grep '^READY ' "$WORK/receiver.out" || true)"
[[ "$READY" =~ ^READY\ grpc=([0-9]+)\ http=([0-9]+)$ ]] || die "no READY line within 15s (got '$READY')"
GRPC_PORT="${BASH_REMATCH[1]}"
HTTP_PORT="${BASH_REMATCH[2]}"
[ "$(wc -l <"$WORK/receiver.out")" -eq 1 ] || die "receiver printed more than the READY line"
pass "stub_receiver.py: $READY"

# 3. sender runs: PYTHON PROTOCOL COMPRESSION TRANSPORT PORT CONTENT_TYPE [SIGNALS]
send_and_verify() {
    local py="$1" protocol="$2" compression="$3" transport="$4" port="$5" ctype="$6"
    local signals="${7:-traces,metrics,logs}"
    local encoding=identity
    [ "$compression" = gzip ] && encoding=gzip
    local skip summary rc=0
    touch "$OUT"
    skip="$(wc -l <"$OUT")"
    summary="$(timeout 90 "$py" "$HERE/sdk_send.py" --endpoint "http://127.0.0.1:$port" \
        --protocol "$protocol" --compression "$compression" --signals "$signals" \
        2>"$WORK/send.err")" || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$WORK/send.err" >&2
        die "sdk_send.py --protocol $protocol --compression $compression exited $rc"
    fi
    [ "$(printf '%s\n' "$summary" | wc -l)" -eq 1 ] || die "sdk_send.py printed more than one stdout line"
    pass "sdk_send.py $protocol/$compression ($signals) exit 0: $summary"
    timeout 60 "$PY_SDK" "$HERE/verify_received.py" sent --out "$OUT" --skip "$skip" \
        --summary "$summary" --transport "$transport" --encoding "$encoding" --content-type "$ctype" \
        | sed 's/^/check_peers:   /' || die "received data for $protocol/$compression is wrong"
    pass "received data for $protocol/$compression verified"
}

send_and_verify "$PY_SDK" grpc none grpc "$GRPC_PORT" application/grpc
send_and_verify "$PY_SDK" grpc gzip grpc "$GRPC_PORT" application/grpc
send_and_verify "$PY_SDK" http/protobuf none http "$HTTP_PORT" application/x-protobuf
send_and_verify "$PY_SDK" http/protobuf gzip http "$HTTP_PORT" application/x-protobuf
send_and_verify "$PY_JSON" http/json none http "$HTTP_PORT" application/json
send_and_verify "$PY_JSON" http/json gzip http "$HTTP_PORT" application/json
send_and_verify "$PY_SDK" grpc gzip grpc "$GRPC_PORT" application/grpc traces,logs

# A failed export must make sdk_send.py exit non-zero (nothing listens on port 9 = discard).
rc=0
timeout 60 "$PY_SDK" "$HERE/sdk_send.py" --endpoint http://127.0.0.1:9 --protocol http/protobuf \
    --signals traces --timeout 2 >/dev/null 2>"$WORK/send-fail.err" || rc=$?
[ "$rc" -eq 1 ] || die "sdk_send.py against a closed port exited $rc, expected 1"
pass "sdk_send.py against a closed port exits 1 ($(grep -m1 'FAILED' "$WORK/send-fail.err"))"

# sdk_metrics.py: every instrument kind, both temporalities, two exports each.
for run in "$PY_SDK grpc $GRPC_PORT cumulative" "$PY_SDK http/protobuf $HTTP_PORT delta" \
    "$PY_JSON http/json $HTTP_PORT delta"; do
    read -r py protocol port temporality <<<"$run"
    timeout 90 "$py" "$HERE/sdk_metrics.py" --endpoint "http://127.0.0.1:$port" --protocol "$protocol" \
        --temporality "$temporality" --out "$WORK/metrics.json" >"$WORK/metrics.out" 2>"$WORK/metrics.err" ||
        die "sdk_metrics.py --protocol $protocol --temporality $temporality: $(tail -n 5 "$WORK/metrics.err")"
    "$PY_SDK" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if len(d["exports"]) == 2 and d["recorded"] else 1)' \
        "$WORK/metrics.json" || die "sdk_metrics.py --out lacks the two exports"
    pass "sdk_metrics.py $protocol/$temporality: $(cat "$WORK/metrics.out")"
done
rc=0
timeout 60 "$PY_SDK" "$HERE/sdk_metrics.py" --endpoint http://127.0.0.1:9 --protocol http/protobuf \
    --timeout 2 --out "$WORK/metrics-fail.json" >/dev/null 2>"$WORK/metrics-fail.err" || rc=$?
[ "$rc" -eq 1 ] || die "sdk_metrics.py against a closed port exited $rc, expected 1"
pass "sdk_metrics.py against a closed port exits 1"

# 4. receiver edge cases
timeout 60 "$PY_SDK" "$HERE/verify_received.py" extras --out "$OUT" \
    --grpc-port "$GRPC_PORT" --http-port "$HTTP_PORT" | sed 's/^/check_peers:   /' ||
    die "receiver edge cases"
pass "receiver edge cases"

# 5. clean stop on SIGTERM
kill -TERM "$RECEIVER_PID"
rc=0
for _ in $(seq 100); do kill -0 "$RECEIVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$RECEIVER_PID" 2>/dev/null && die "stub_receiver.py still running 10s after SIGTERM"
wait "$RECEIVER_PID" || rc=$?
RECEIVER_PID=""
[ "$rc" -eq 0 ] || die "stub_receiver.py exited $rc on SIGTERM"
pass "stub_receiver.py stopped cleanly on SIGTERM"

echo "check_peers: $PASSED passed, 0 failed"
