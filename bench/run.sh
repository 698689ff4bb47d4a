#!/usr/bin/env bash
# The benchmark suite in one command: ours (crates/realtime) against the Node.js + Socket.IO
# baseline (bench/baseline-node), side by side in one run, servers pinned to core 0 and the load
# generator to core 1. Writes bench/results/<date>.md and .json. See bench/README.md.
#
#   bash bench/run.sh                 # full suite (about 6 minutes on 2 cores, plus the build)
#   bash bench/run.sh --quick         # small counts, about 1.5 minutes (development)
#   bash bench/run.sh --only idle,durable
#
# Starts what it needs if missing: Redis on 127.0.0.1:6379, and its own nx-27017 (MongoDB-wire
# test server, in memory) on 127.0.0.1:$BENCH_MONGO_PORT (default 27118), stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '\n== %s\n' "$*" >&2; }
wait_for() { local n=$1; shift; for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }

# One suite at a time on a machine: a second run would share the first's nx-27017 (its port is
# open), lose it when the first run exits, and both would measure each other's load.
LOCK="${TMPDIR:-/tmp}/batiyoun-bench.lock"
exec 9>"$LOCK"
if ! flock -n 9; then
  echo "bench/run.sh: another run is in progress on this machine (lock $LOCK)" >&2
  exit 1
fi

SERVER_CORE=${BENCH_SERVER_CORE:-0}
LOADGEN_CORE=${BENCH_LOADGEN_CORE:-1}
MONGO_PORT=${BENCH_MONGO_PORT:-27118}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# The baseline's npm packages and the nx-27017 virtualenv are downloads, not compilation: fetch
# them while cargo compiles (on a fresh clone the build is most of the wall time), then wait.
NX_VENV="$HOME/.cache/batiyoun/nxvenv"
NX=${NX27017_BIN:-}
for c in /opt/nxvenv/bin/nx-27017 "$NX_VENV/bin/nx-27017"; do
  [ -z "$NX" ] && [ -x "$c" ] && NX=$c
done
prepare() {
  if [ ! -d bench/baseline-node/node_modules ] || [ bench/baseline-node/package-lock.json -nt bench/baseline-node/node_modules ]; then
    (cd bench/baseline-node && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ -z "$NX" ]; then
    python3 -m venv "$NX_VENV"
    "$NX_VENV/bin/pip" install -q nx-27017
  fi
}
say "baseline npm ci and nx-27017 virtualenv (in the background), build (release): realtime, auth-api, loadgen"
prepare >/tmp/bench-prepare.log 2>&1 &
PREPARE_PID=$!
cargo build --release -q -p realtime -p auth-api -p loadgen
if ! wait "$PREPARE_PID"; then
  cat /tmp/bench-prepare.log >&2
  echo "bench/run.sh: npm ci or the nx-27017 install failed (log above)" >&2
  exit 1
fi
[ -z "$NX" ] && NX="$NX_VENV/bin/nx-27017"

say "Redis 127.0.0.1:6379"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  # 9>&-: the daemon must not hold the run's lock after the run.
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log 9>&-
  wait_for 30 redis-cli -h 127.0.0.1 -p 6379 ping
fi

say "nx-27017 (MongoDB-wire test server) on 127.0.0.1:$MONGO_PORT"
NX_VERSION=$("$(dirname "$NX")/pip" show nx-27017 2>/dev/null | awk '/^Version/{print $2}' || true)
NX_PID=
cleanup() {
  [ -n "$NX_PID" ] && kill "$NX_PID" 2>/dev/null || true
  # The servers' Redis keys (prefixes bench<pid>_<n>:), some of which never expire (last-seen
  # times): a run left ~460 behind.
  redis-cli -h 127.0.0.1 -p 6379 --scan --pattern 'bench[0-9]*_[0-9]*:*' 2>/dev/null |
    xargs -r -n 500 redis-cli -h 127.0.0.1 -p 6379 del >/dev/null 2>&1 || true
}
trap cleanup EXIT
if ! (exec 3<>"/dev/tcp/127.0.0.1/$MONGO_PORT") 2>/dev/null; then
  # Pinned with the load generator so the server core measures only the server under test.
  taskset -c "$LOADGEN_CORE" "$NX" --db memory --host 127.0.0.1 -p "$MONGO_PORT" \
    --log-file "/tmp/bench-nx-27017-$MONGO_PORT.log" --pid-file "/tmp/bench-nx-27017-$MONGO_PORT.pid" \
    >/tmp/bench-nx-27017.out 2>&1 9>&- &
  NX_PID=$!
  wait_for 60 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MONGO_PORT"
fi

# As many descriptors as the hard limit allows (raised further by loadgen if permitted).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

say "suite (servers on core $SERVER_CORE, loadgen on core $LOADGEN_CORE)"
export BENCH_MONGO_WIRE="nx-27017 ${NX_VERSION:-?} (Python/SQLite, --db memory, pinned to core $LOADGEN_CORE) on 127.0.0.1:$MONGO_PORT"
export BENCH_LOADGEN_PINNING="taskset -c $LOADGEN_CORE"
start=$(date +%s)
taskset -c "$LOADGEN_CORE" "$TARGET_DIR/release/loadgen" \
  --ours "$TARGET_DIR/release/realtime" \
  --auth-api "$TARGET_DIR/release/auth-api" \
  --node-server "$ROOT/bench/baseline-node/server.mjs" \
  --mongo "mongodb://127.0.0.1:$MONGO_PORT" \
  --redis "redis://127.0.0.1:6379" \
  --server-cores "$SERVER_CORE" \
  --out "$ROOT/bench/results" "$@"
say "done in $(( $(date +%s) - start )) s"
