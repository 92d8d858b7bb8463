#!/usr/bin/env bash
# OTAP against the reference implementation on the same data: otlp-otap's `sizes` example
# prints our tables and dumps its batches (the OTLP requests and our encoder's streams), then
# interop/otap-reference runs otel-arrow's Go producer and consumer (v0.46.0, what the
# Collector's otelarrowreceiver v0.148.0 decodes with) on those batches and prints bytes on the
# wire, encode CPU against Go's protobuf marshal, and the Go consumer's decode CPU for its own
# stream and for ours. Last, our encode CPU on the same batches (the medians table of
# `cargo bench -p otlp-otap --bench encode`, criterion's own measurements filtered out).
#
#   scripts/otap-reference.sh
#
# Needs Go >= 1.25 (modules come from the module proxy or the cache the Collector peer's build
# filled). Takes about four minutes after the builds.
set -euo pipefail
cd "$(dirname "$0")/.."

dump="${CARGO_TARGET_DIR:-target}/otap-reference"
rm -rf "$dump"
mkdir -p "$dump"
dump=$(cd "$dump" && pwd)

if ! command -v go >/dev/null; then
    echo "otap-reference.sh: no 'go' on PATH (Go >= 1.25 builds interop/otap-reference)" >&2
    exit 1
fi
(cd interop/otap-reference && GOTOOLCHAIN=local go build -mod=readonly -trimpath -o "$dump/otap-reference" .)

echo "## Ours (cargo run -p otlp-otap --example sizes)"
OTAP_SIZES_DUMP="$dump" cargo run --quiet -p otlp-otap --example sizes
echo
echo "## The reference, otel-arrow's Go implementation, on the same batches"
echo
"$dump/otap-reference" "$dump"
echo
echo "## Ours, encode CPU on the same batches (cargo bench -p otlp-otap --bench encode)"
cargo bench --quiet -p otlp-otap --bench encode -- 'only the medians table^' 2>/dev/null | sed -n '/^ns per item/,$p'
