#!/usr/bin/env bash
# Builds the Go peers of the interoperability tests (crates/otlp-interop):
#
#   peercol  the OpenTelemetry Collector v0.148.0 (interop/collector: otlp and otelarrow receivers,
#            debug, file, otlp_grpc, otlp_http and prometheus exporters)
#   jaeger   Jaeger v2 (module github.com/jaegertracing/jaeger v1.76.0, interop/jaeger)
#
# into ${OTLP_PEERS_DIR:-<repo>/target/peers}/bin. Idempotent: a binary is rebuilt only when the
# sha256 of its inputs (go.mod, go.sum, *.go, this script) changed. The normal Go module and build
# caches are used, so a rebuild on the same machine takes seconds. Progress and timings go to
# stderr; stdout gets `PEERCOL=<path>` and `JAEGER=<path>`. A failed step prints its name and the
# tail of the Go output and exits non-zero.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peers=${OTLP_PEERS_DIR:-$repo/target/peers}
bin=$peers/bin
mkdir -p "$bin" "$peers/logs"

log() { echo "[build-peers] $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "FAILED: no 'go' on PATH; the Collector and Jaeger peers need Go >= 1.25 (see README.md, "Interoperability")"
  exit 1
fi
# Never let the go command fetch another toolchain: the version on PATH is the one we report.
export GOTOOLCHAIN=local
go_version=$(go env GOVERSION)
case $go_version in
  go1.2[5-9]* | go1.[3-9][0-9]*) ;;
  *)
    log "FAILED: $go_version is too old; Collector v0.148.0 needs Go >= 1.25"
    exit 1
    ;;
esac

# Concurrent test binaries (or CI steps) build once; the others wait here, then find the stamp.
exec 9>"$peers/build.lock"
if ! flock -w 1800 9; then
  log "FAILED: could not take $peers/build.lock within 30 minutes"
  exit 1
fi

script_start=$(date +%s)

# build NAME DIR OUT PACKAGE: `go build` PACKAGE in the module DIR into OUT, unless the stamp of
# DIR's inputs matches the one recorded for OUT.
build() {
  local name=$1 dir=$2 out=$3 pkg=$4
  local stamp_file=$out.stamp
  local stamp
  stamp=$(
    cd "$dir"
    { sha256sum go.mod go.sum ./*.go 2>/dev/null || true; sha256sum "$here/build-peers.sh"; echo "$go_version"; } |
      sha256sum | cut -d' ' -f1
  )
  if [[ -x $out && -f $stamp_file && $(cat "$stamp_file") == "$stamp" ]]; then
    log "$name: up to date ($out)"
    return 0
  fi
  local t0 log_file=$peers/logs/$name-build.log
  t0=$(date +%s)
  start_progress
  log "$name: building in ${dir#"$repo"/} with $go_version (a cold build downloads modules and takes minutes)"
  # -mod=readonly: go.mod and go.sum are committed and complete; a build never rewrites them.
  # -x would be too noisy; -v prints each package as it is compiled, which shows progress.
  if ! (cd "$dir" && go build -mod=readonly -trimpath -ldflags='-s -w' -v -o "$out.tmp" "$pkg") \
    >"$log_file" 2>&1; then
    log "FAILED: $name: go build (after $(($(date +%s) - t0))s); last lines of $log_file:"
    tail -n 40 "$log_file" >&2
    rm -f "$out.tmp"
    exit 1
  fi
  stop_progress
  mv -f "$out.tmp" "$out"
  echo "$stamp" >"$stamp_file"
  log "$name: built in $(($(date +%s) - t0))s ($(grep -c '^go: downloading' "$log_file" || true) modules downloaded, $(grep -vc '^go: ' "$log_file" || true) packages compiled)"
}

# Progress for a cold build: a line every 30 s while a build runs. The sleep runs in the
# background with its own stdio and is killed with the loop, so stopping the loop is immediate
# and nothing keeps the caller's stderr pipe open.
progress_pid=
start_progress() {
  (
    trap 'kill "$s" 2>/dev/null; exit 0' TERM
    while true; do
      sleep 30 </dev/null >/dev/null 2>&1 &
      s=$!
      wait "$s"
      log "... still building ($(($(date +%s) - script_start))s)"
    done
  ) &
  progress_pid=$!
}
stop_progress() {
  if [[ -n $progress_pid ]]; then
    kill "$progress_pid" 2>/dev/null || true
    wait "$progress_pid" 2>/dev/null || true
    progress_pid=
  fi
}
trap stop_progress EXIT

build peercol "$here/collector" "$bin/peercol" .
build jaeger "$here/jaeger" "$bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger

log "peers ready in $(($(date +%s) - script_start))s"
echo "PEERCOL=$bin/peercol"
echo "JAEGER=$bin/jaeger"
