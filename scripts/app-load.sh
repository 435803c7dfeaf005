#!/usr/bin/env bash
# scripts/app-load.sh — measure the Mini App's first load on a throttled phone (docs/PERFORMANCE.md has the figures).
#
# Usage:
#   scripts/app-load.sh [RUNS]       RUNS cold loads (default 9)
#
# Runs the browser test `first_load` (loyalty-native/tests/mini_app_browser.rs): `loyalty serve`'s router on
# loopback with a seeded customer, her page opened in headless Chromium (390×760, touch) RUNS times, each in a fresh
# browser context (cold cache), with Chrome DevTools Protocol throttling:
#
#   Emulation.setCPUThrottlingRate      rate 4 (the CPU four times slower)
#   Network.emulateNetworkConditions    latency 150 ms, 1.6 Mbit/s down, 750 kbit/s up — Lighthouse's mobile
#                                       profile, what docs/PERFORMANCE.md calls "Fast 3G-like"
#
# "Interactive" is the first moment the card shows both the balance and the QR code (a MutationObserver in the page
# stamps performance.now(), whose origin is the navigation's start). Telegram's own script is answered locally (a
# Telegram client has it) and not counted. Prints the median and worst times and the bytes: the page's files as
# served (gzip) and as gzip -9 of their bodies, and the API's answers. Exits non-zero when the median is over
# 1500 ms or the page's files are over 100 KiB gzip (the test itself fails on the latter).

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
RUNS=${1:-9}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "app-load: RUNS must be a positive number" >&2; exit 2; }

browser_env=$("$REPO_ROOT/scripts/browser.sh" env) || exit 1
eval "$browser_env"
REPORT=$(mktemp "${TMPDIR:-/tmp}/app-load.XXXXXX.json")
trap 'rm -f "$REPORT"' EXIT
export LOYALTY_APP_LOAD_RUNS=$RUNS LOYALTY_APP_LOAD_REPORT=$REPORT

TEST=first_load
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run -p loyalty-native --test mini_app_browser --run-ignored all -E "test(=$TEST)" >&2
else
    cargo test -p loyalty-native --test mini_app_browser -- --include-ignored --exact "$TEST" >&2
fi

"$NODE_BIN" -e '
const report = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const runs = report.runs;
const sorted = (xs) => xs.slice().sort((a, b) => a - b);
const median = (xs) => { const s = sorted(xs); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const ms = (x) => `${Math.round(x)} ms`;
const kb = (x) => `${(x / 1024).toFixed(1)} KiB`;
const tti = runs.map((r) => r.interactive_ms);
const fcp = runs.map((r) => r.fcp_ms).filter((x) => x !== null);
const first = runs[0];
const assets = first.files.filter((f) => f.kind === "asset");
const api = first.files.filter((f) => f.kind === "api");
const sum = (fs, k) => fs.reduce((a, f) => a + (f[k] || 0), 0);
console.log(`Chromium ${report.browser}, ${runs.length} cold loads, CPU 4× slower, 150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up`);
console.log("");
console.log("| | median | worst |");
console.log("|---|---|---|");
console.log(`| interactive (card with balance and QR) | ${ms(median(tti))} | ${ms(Math.max(...tti))} |`);
if (fcp.length) console.log(`| first contentful paint | ${ms(median(fcp))} | ${ms(Math.max(...fcp))} |`);
console.log("");
console.log("| file | on the wire | gzip -9 of the body |");
console.log("|---|---|---|");
for (const f of first.files) {
    const path = new URL(f.url).pathname;
    console.log(`| \`${path}\`${f.encoding ? ` (${f.encoding})` : ""} | ${f.wireBytes} B | ${f.gzipBytes ?? "–"} B |`);
}
console.log(`| the page (HTML, JS, CSS) | ${kb(sum(assets, "wireBytes"))} | ${kb(sum(assets, "gzipBytes"))} |`);
console.log(`| the API answers | ${kb(sum(api, "wireBytes"))} | ${kb(sum(api, "gzipBytes"))} |`);
const over = [];
if (median(tti) > 1500) over.push(`the median time to interactive is ${ms(median(tti))}, over 1500 ms`);
if (sum(assets, "gzipBytes") > 100 * 1024) over.push(`the page is ${kb(sum(assets, "gzipBytes"))} gzip, over 100 KiB`);
for (const o of over) console.error(`app-load: ${o}`);
process.exit(over.length ? 1 : 0);
' "$REPORT"
