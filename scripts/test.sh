#!/usr/bin/env bash
# The test suite: every Rust test, then the Node suites (official socket.io-client, browser).
# Real-backend tests read TEST_* URLs; unset, they skip locally and fail under CI=true.
# `bash .ci/run` provisions every backend and then runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/target}"

cargo build --workspace --bins
cargo test --workspace --no-fail-fast

if [ -d tests/node ]; then
  (cd tests/node && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test)
fi
