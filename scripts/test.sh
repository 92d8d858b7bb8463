#!/usr/bin/env bash
# The one test command: formatting, lints, every workspace test (unit, integration, doc) and the
# peer tests against the real Python OpenTelemetry SDK, the OpenTelemetry Collector and Jaeger.
# Installs and builds what it needs (Python virtualenvs and the Go peers under target/peers,
# cached) and prints a timing line per step.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$(date +%s)
step() {
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  echo "==> $name"
  if ! "$@"; then
    echo "==> FAILED: $name ($(($(date +%s) - t0))s)" >&2
    exit 1
  fi
  echo "==> $name: ok ($(($(date +%s) - t0))s, total $(($(date +%s) - start))s)"
}

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# A CI run builds once from a fresh clone: incremental state would only take disk (gigabytes).
if [ "${CI:-}" = "true" ]; then
  export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
fi

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The crates users depend on: their docs build without a warning (broken intra-doc links fail),
# and each packages (versions on path dependencies, metadata, file lists). The full check that
# builds each package from its own files, `cargo package --workspace` without `--no-verify`
# (the same exclusions), takes minutes: run it before a release.
public_crates=(-p otlp -p otlp-sdk -p otlp-proto -p otlp-semconv -p otlp-tracing -p otlp-log
  -p otlp-tower -p otlp-metrics-rs -p otlp-profiler -p otlp-otap -p otlp-receiver)
step "cargo doc (public crates, -D warnings)" env RUSTDOCFLAGS="-D warnings" \
  cargo doc --quiet --locked --no-deps --all-features "${public_crates[@]}"
# The feature sets the docs promise: the default (`cargo check -p otlp`: no dev-dependency turns
# a feature on), the minimal (`checks/minimal-features`, a workspace of its own run with the main
# lock: OTLP/HTTP only, gzip, zstd, TLS, gRPC and JSON left out and refused by name), and all of them
# (clippy above, and the facade's tests below).
step "features: otlp default" cargo check --quiet --locked -p otlp
cp Cargo.lock checks/minimal-features/Cargo.lock
step "features: otlp minimal" env RUSTFLAGS="-D warnings" CARGO_TARGET_DIR="$PWD/target/minimal" \
  cargo run --quiet --manifest-path checks/minimal-features/Cargo.toml
step "cargo package (public crates)" cargo package --quiet --locked --no-verify --allow-dirty \
  --workspace --exclude examples --exclude xtask --exclude bench-support --exclude test-support \
  --exclude otlp-interop --exclude otap-crosscheck --exclude otlp-soak

# The semantic-conventions model is not part of the repository (a clone alone must pass): the
# generator's check runs where the model is, and says so where it is not.
semconv_model=${OTLP_SEMCONV_MODEL:-$PWD/../shared/semconv}
if [ -d "$semconv_model/v1.44.0/model" ]; then
  step "semconv model check" env OTLP_SEMCONV_MODEL="$semconv_model" \
    cargo run --quiet --locked -p xtask --features check -- semconv --check
else
  echo "==> semconv model check: not run (no model at $semconv_model; set OTLP_SEMCONV_MODEL)"
fi
# No non-Unix target is installable here: `--cfg otlp_portable` makes the SDK take its portable
# code paths on this host, so that they are compiled and linted too.
step "portable (non-Unix) code paths" env RUSTFLAGS="--cfg otlp_portable -D warnings" \
  cargo check --quiet --locked -p otlp --all-features --target-dir target/portable
step "python peers (virtualenvs)" bash interop/python/setup.sh
step "build interop peers (Collector, Jaeger)" bash interop/build-peers.sh
step "cargo test" cargo test --workspace --locked --no-fail-fast
# The facade and the tower layers with every feature: `otlp::init`'s set-up of the bridges, the
# layers on an axum router, and the docs' examples of each feature.
step "cargo test -p otlp -p otlp-tower --all-features" \
  cargo test -p otlp -p otlp-tower --locked --all-features --no-fail-fast
echo "==> all steps passed in $(($(date +%s) - start))s"
