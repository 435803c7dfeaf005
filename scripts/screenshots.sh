#!/usr/bin/env bash
# scripts/screenshots.sh — take the Mini App's screenshots into docs/screenshots/ (the README shows them).
#
# Usage:
#   scripts/screenshots.sh [DIR]     DIR defaults to docs/screenshots
#
# Runs the browser test `screenshots_of_every_screen` (loyalty-native/tests/mini_app_browser.rs): `loyalty serve`'s
# router on loopback with a fixed clock and the same program every time (Anna, Café Linh and its reward, five
# purchases over three weeks), opened in headless Chromium on a 390×760 viewport. Every screen — the customer's
# card, history, partners and settings, the partner's till after a scan, the admin's figures — in English and
# Russian, light and dark: DIR/<screen>-<en|ru>-<light|dark>.png, 24 files. The PNGs are then re-encoded at the
# highest compression (same pixels). Chromium and playwright-core come from scripts/browser.sh; Debian's
# fonts-noto-color-emoji is installed when missing (the page's icons are emoji).

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
DIR=$(mkdir -p "${1:-docs/screenshots}" && cd "${1:-docs/screenshots}" && pwd)

browser_env=$("$REPO_ROOT/scripts/browser.sh" env) || exit 1
eval "$browser_env"
# The page's icons are emoji (the bots' own wording): without a colour emoji font they would be empty boxes.
fonts=$(fc-list 2>/dev/null || true)
if ! grep -qi 'Noto Color Emoji' <<<"$fonts"; then
    command -v apt-get >/dev/null 2>&1 || { echo "screenshots: install a colour emoji font (fonts-noto-color-emoji)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -q fonts-noto-color-emoji >&2 ||
        { apt-get -o DPkg::Lock::Timeout=600 update -q >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y -q fonts-noto-color-emoji >&2; }
fi
export LOYALTY_SCREENSHOTS_DIR=$DIR
rm -f "$DIR"/*.png

TEST=screenshots_of_every_screen
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run -p loyalty-native --test mini_app_browser --run-ignored all --no-capture -E "test(=$TEST)"
else
    cargo test -p loyalty-native --test mini_app_browser -- --include-ignored --exact "$TEST"
fi

# Same pixels, smaller files: pngjs re-encodes each at deflate level 9.
NODE_PATH=$LOYALTY_E2E_DIR/node_modules "$NODE_BIN" -e '
const fs = require("fs");
const { PNG } = require("pngjs");
for (const file of process.argv.slice(1)) {
    const png = PNG.sync.read(fs.readFileSync(file));
    const out = PNG.sync.write(png, { deflateLevel: 9, colorType: 2 });
    if (out.length < fs.statSync(file).size) fs.writeFileSync(file, out);
}' "$DIR"/*.png

count=$(find "$DIR" -maxdepth 1 -name '*.png' | wc -l)
printf 'screenshots: %s files, %s in all, in %s\n' "$count" "$(du -ch "$DIR"/*.png | tail -n1 | cut -f1)" "$DIR"
