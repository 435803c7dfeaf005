#!/usr/bin/env bash
# scripts/profile-worker.sh — where a Worker's CPU goes per update: perf + V8's --perf-basic-prof on workerd.
#
# Usage:
#   scripts/profile-worker.sh [OUT_DIR]   (default target/profile-worker) — writes OUT_DIR/perf.data and
#                                         OUT_DIR/report.txt (the top functions by self time), prints the top 40;
#                                         the same of the hand-written JavaScript Worker's run in
#                                         OUT_DIR/perf.data.js and OUT_DIR/report-js.txt
#   scripts/profile-worker.sh --help
#
# What it does:
#   1. LOYALTY_WASM_KEEP_NAMES=1 scripts/build-workers.sh client-webhook partner-webhook: a profiling build,
#      the same code with the wasm functions' names kept (rebuild without it before deploying or measuring size);
#   2. LOYALTY_WORKERD_V8_FLAGS=--perf-basic-prof (V8 writes /tmp/perf-<pid>.map, naming JIT-compiled JavaScript
#      and wasm frames) and LOYALTY_PERF_OUT=OUT_DIR/perf.data, then the edge_load bench (benches/benches/
#      edge_load.rs; LOAD_SECONDS defaults to 5 here): `perf record -e cpu-clock -g` is attached to workerd for
#      the /balance run only;
#   3. perf report --no-children of workerd's samples, by object (--sort dso) and by function (--sort symbol).
# Needs Debian's linux-perf (`apt-get install linux-perf`; root, or kernel.perf_event_paranoid <= 1), and what
# edge_load needs (PostgreSQL on 127.0.0.1:5432; postrust and the edge tools are installed on first use).
# Read the report in groups: wasm functions (Rust names), the JavaScript glue (index.js / boundary.mjs names),
# V8 builtins and the runtime (workerd's own symbols: HTTP in and out, the event loop), the kernel.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
case ${1:-} in
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
esac
out=$(mkdir -p "${1:-$REPO_ROOT/target/profile-worker}" && cd "${1:-$REPO_ROOT/target/profile-worker}" && pwd)
command -v perf >/dev/null || { echo "profile-worker: perf is needed (apt-get install linux-perf)" >&2; exit 1; }

LOYALTY_WASM_KEEP_NAMES=1 "$SCRIPT_DIR/build-workers.sh" client-webhook partner-webhook
eval "$("$SCRIPT_DIR/edge-tools.sh" env)"
POSTRUST_BIN=${POSTRUST_BIN:-$("$SCRIPT_DIR/postrust.sh")}
export POSTRUST_BIN
rm -f "$out/perf.data" "$out/perf.data.js" "$out/report-js.txt"
(cd "$REPO_ROOT" && LOAD_SECONDS=${LOAD_SECONDS:-5} LOYALTY_WORKERD_V8_FLAGS="--perf-basic-prof --no-logfile-per-isolate --logfile=/dev/null" \
    LOYALTY_PERF_OUT="$out/perf.data" cargo bench -p loyalty-benches --bench edge_load)
report() { # perf.data → the report
    echo "# By object: workerd (the runtime, V8, its allocator), [JIT] (wasm and JavaScript, named by the map), kernel, libc"
    perf report -i "$1" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]'
    echo "# By function (self time, >= 0.1%; JS:… frames are wasm and JavaScript)"
    perf report -i "$1" --no-children --sort symbol --stdio --percent-limit 0.1 2>/dev/null | grep -E '^ +[0-9]'
}
report "$out/perf.data" > "$out/report.txt"
# The hand-written JavaScript Worker's run of the same bench (benches/js-baseline), to set beside it.
[[ -f $out/perf.data.js ]] && report "$out/perf.data.js" > "$out/report-js.txt"
if [[ -f $out/report-js.txt ]]; then
    echo "profile-worker: $out/report.txt (its start below) and report-js.txt (the JavaScript Worker's);" \
        "perf.data for perf report -i $out/perf.data" >&2
else
    echo "profile-worker: $out/report.txt (its start below); perf.data for perf report -i $out/perf.data" >&2
fi
head -48 "$out/report.txt"
