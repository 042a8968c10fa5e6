#!/usr/bin/env bash
# Runs every test: the agent API fuzzing (schemathesis), then the workspace's tests.
# The last line is nextest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/api-fuzz.sh
exec cargo nextest run --workspace --no-fail-fast --failure-output final "$@"
