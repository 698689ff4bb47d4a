#!/usr/bin/env bash
# The one command: build the PWA, then run auth-api, realtime and the PWA in one process on one
# origin, on embedded defaults (SQLite under ./data, in-process store and fan-out, a dev mailbox
# instead of SMTP). Prints the URL to open; one-time codes appear in this terminal.
# PORT (default 3000), HOST (127.0.0.1) and DATA_DIR (./data) can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> building the PWA (web/)"
(cd web && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build --silent)

echo "==> building and starting Batiyoun"
exec cargo run --quiet --bin batiyoun
