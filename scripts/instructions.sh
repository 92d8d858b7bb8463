#!/usr/bin/env bash
# Instructions per item of OTLP protobuf and OTAP encoding, each also with zstd over the
# message as gRPC compression does (otlp-otap's `instructions` example under valgrind's
# cachegrind): a figure that, unlike time, does not move with what else the machine runs.
# Each configuration runs twice, with few and with more batches after the warm-up, and the
# difference is shared over the extra items, so that start-up and workload generation cancel
# out.
#
#   scripts/instructions.sh                  every signal at 100, 1,000 and 5,000 items
#   scripts/instructions.sh traces 1000      one signal and size
#   scripts/instructions.sh decode [...]     decoding instead: OTLP protobuf against our OTAP
#                                            decoder on our stream (a fresh one every 5 batches)
#
# Needs valgrind (`apt-get install valgrind`). Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
fi
cargo build --release --quiet -p otlp-otap --example instructions
bin="${CARGO_TARGET_DIR:-target}/release/examples/instructions"

count() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$@" 2>&1 |
        awk '/I *refs/ { gsub(",", "", $4); print $4 }'
}

# Instructions per item of one signal, size and way.
per_item() {
    local signal=$1 size=$2 way=$3 few=2 more
    more=$((size >= 5000 ? 6 : size >= 1000 ? 12 : 42))
    local a b
    a=$(count "$signal" "$size" "$way" "$few")
    b=$(count "$signal" "$size" "$way" "$more")
    echo $(((b - a) / (more - few) / size))
}

signals=(traces logs metrics)
sizes=(100 1000 5000)
decode=false
if [[ ${1:-} == decode ]]; then
    decode=true
    shift
fi
if [[ $# -ge 1 ]]; then signals=("$1"); fi
if [[ $# -ge 2 ]]; then sizes=("$2"); fi

if $decode; then
    echo "| signal | batch | OTLP decode | OTAP decode | OTAP / OTLP |"
    echo "|---|---:|---:|---:|---:|"
    for signal in "${signals[@]}"; do
        for size in "${sizes[@]}"; do
            otlp=$(per_item "$signal" "$size" otlp-decode)
            otap=$(per_item "$signal" "$size" decode)
            awk -v s="$signal" -v n="$size" -v o="$otlp" -v a="$otap" \
                'BEGIN { printf "| %s | %d | %d | %d | %.1f |\n", s, n, o, a, a / o }'
        done
    done
    exit 0
fi

echo "| signal | batch | OTLP | OTLP+zstd | OTAP | OTAP plain IPC | OTAP plain IPC+zstd | OTAP / OTLP | OTAP / OTLP+zstd |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for signal in "${signals[@]}"; do
    for size in "${sizes[@]}"; do
        otlp=$(per_item "$signal" "$size" otlp)
        otlp_zstd=$(per_item "$signal" "$size" otlp+zstd)
        otap=$(per_item "$signal" "$size" otap)
        plain=$(per_item "$signal" "$size" plain)
        plain_zstd=$(per_item "$signal" "$size" plain+zstd)
        awk -v s="$signal" -v n="$size" -v o="$otlp" -v oz="$otlp_zstd" -v a="$otap" \
            -v p="$plain" -v pz="$plain_zstd" \
            'BEGIN { printf "| %s | %d | %d | %d | %d | %d | %d | %.1f | %.1f |\n", s, n, o, oz, a, p, pz, a / o, a / oz }'
    done
done
