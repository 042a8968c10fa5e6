#!/usr/bin/env bash
# Runs every test of the workspace. The last line is nextest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo nextest run --workspace --no-fail-fast --failure-output final "$@"
