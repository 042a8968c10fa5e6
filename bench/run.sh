#!/usr/bin/env bash
# Benchmark: `inbound get` against aria2c (and curl on loopback) over a real round-trip
# time between two network namespaces (the delay line) and over loopback; see
# bench/README.md. Needs root (network namespaces, TUN). Prints a table and writes
# bench/results/latest.{json,md}. Arguments go to bench.py (e.g. --only S1,S3).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: the benchmark creates network namespaces" >&2; exit 1; }

missing=()
for pair in nginx:nginx-light aria2c:aria2 curl:curl /usr/bin/time:time ip:iproute2 ss:iproute2; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The same inbound with hashing compiled out, to measure what hashing costs; then the
# real one (built last, so target/release/inbound is what ships); and the delay line.
cargo build --release -q -p inbound-cli --features bench-unhashed
cp target/release/inbound target/release/inbound-unhashed
cargo build --release -q -p inbound-cli -p inbound-delayline
exec python3 bench/bench.py "$@"
