#!/usr/bin/env bash
# Fuzzes the agent API from its OpenAPI document with schemathesis: no 5xx, and every
# answer must match the documented schema and status codes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }
# Build what the test run builds (the bin comes with the integration tests), so the
# nextest run after this reuses it.
cargo test -q --workspace --locked --no-run 2>/dev/null || cargo test --workspace --locked --no-run
bin=target/debug/inbound
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$bin" sim --port 0 --only demo,demo-locked > "$work/sim.txt" &
for _ in $(seq 100); do grep -q MASV_API_URL "$work/sim.txt" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/^MASV_API_URL=//p' "$work/sim.txt")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MASV_API_URL="$api" INBOUND_DATA_DIR="$work/data" RUST_LOG=warn "$bin" agent --listen "127.0.0.1:$port" &
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/downloads" >/dev/null && break; sleep 0.1; done

schemathesis run "http://127.0.0.1:$port/api/v1/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${FUZZ_EXAMPLES:-40}" --seed 1 --no-color
