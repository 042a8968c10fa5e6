#!/usr/bin/env bash
# Runs every test: the UI (type check, Vitest, browser tests of the built UI), the agent
# API fuzzing (schemathesis), then the workspace's Rust tests. The last line is nextest's
# summary.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund)
(cd ui && npm run check && npm test && npm run build && node tests/browser/run.mjs)
bash scripts/api-fuzz.sh
exec cargo nextest run --workspace --no-fail-fast --failure-output final "$@"
