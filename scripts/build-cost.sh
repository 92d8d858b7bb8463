#!/usr/bin/env bash
# Build cost of a hello-world service (client, `tracing` layer, one span) on `otlp` with default
# features against the incumbent's equivalent, and of the same on `otlp`'s own API without the
# `tracing` bridge (`minimal`) (bench/build-cost/): crates compiled and the clean release
# build's wall time, each from an empty target directory, alternating, N rounds (default 2).
# Dependencies are fetched first so that downloads are not timed.
set -euo pipefail
cd "$(dirname "$0")/../bench/build-cost"
rounds=${1:-2}
for p in ours incumbent minimal; do (cd "$p" && cargo fetch --quiet); done
for r in $(seq 1 "$rounds"); do
  for p in ours incumbent minimal; do
    dir=$(mktemp -d)
    start=$(date +%s.%N)
    crates=$(cd "$p" && CARGO_TARGET_DIR="$dir" CARGO_INCREMENTAL=0 cargo build --release 2>&1 \
      | grep -c '^ *Compiling ')
    end=$(date +%s.%N)
    printf 'round %s  %-9s %4d crates  %6.1f s\n' "$r" "$p" "$crates" "$(echo "$end - $start" | bc)"
    rm -rf "$dir"
  done
done
