#!/usr/bin/env bash
# Benchmark: `inbound get` vs curl (one stream per file, sequential) vs aria2c, all
# fetching the same package from the same nginx, (a) over an emulated WAN (20 MiB/s per
# connection, 25 ms before each response) and (b) over plain loopback. Prints a table
# and writes bench/results/latest.{json,md}.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in nginx:nginx-light aria2c:aria2 curl:curl /usr/bin/time:time; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || missing+=(libnginx-mod-http-lua)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
# The same inbound with hashing compiled out, to measure what hashing costs; then the
# real one (built last, so target/release/inbound is what ships).
cargo build --release -q -p inbound-cli --features bench-unhashed
cp target/release/inbound target/release/inbound-unhashed
cargo build --release -q -p inbound-cli
exec python3 bench/bench.py "$@"
