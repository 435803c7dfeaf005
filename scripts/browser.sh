#!/usr/bin/env bash
# scripts/browser.sh — install what the Mini App's browser tests need, once: Debian's Chromium and the pinned
# Node packages of loyalty-app/e2e (playwright-core, which drives the system's Chromium; it downloads no browser).
#
# Usage:
#   scripts/browser.sh [env]         install what is missing, then print `export VAR=...` lines on stdout
#                                    (use: eval "$(scripts/browser.sh)")
#   scripts/browser.sh exec CMD…     install what is missing, then run CMD with the env applied
#   scripts/browser.sh --help
#
# What it installs, skipping what is there:
#
#   chromium                         /usr/bin/chromium, or whatever CHROMIUM_BIN names; otherwise Debian's
#                                    `chromium` package (`apt-get install -y chromium`, `apt-get update` first only
#                                    when that fails; needs root)
#   $CACHE/node/e2e-<lock hash>/     `npm ci` of loyalty-app/e2e/package.json + package-lock.json (playwright-core,
#                                    jsqr, pngjs), npm's own cache in $CACHE/npm. Keyed by a hash of the lockfile, so
#                                    a version bump installs next to the old one.
#
# CACHE is ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}. The env printed / applied:
#   CHROMIUM_BIN              the browser executable (playwright-core's `executablePath`)
#   NODE_BIN                  a Node >= 20 (playwright-core's minimum): the system's `node`
#   LOYALTY_E2E_DIR           the installed Node project; its node_modules is what the driver requires
#   LOYALTY_E2E_DRIVER        loyalty-app/e2e/driver.cjs, the process the Rust tests talk to (JSON lines)
#
# Progress goes to stderr. Idempotent; a warm run takes well under a second.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}
NODE_PROJECT=$REPO_ROOT/loyalty-app/e2e
MIN_NODE_MAJOR=20

log() { printf 'browser: %s\n' "$*" >&2; }
die() { printf 'browser: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; }

ensure_chromium() {
    if [[ -n ${CHROMIUM_BIN:-} ]]; then
        [[ -x $CHROMIUM_BIN ]] || die "CHROMIUM_BIN=$CHROMIUM_BIN is not an executable"
        return 0
    fi
    local found
    for found in /usr/bin/chromium /usr/bin/chromium-browser; do
        if [[ -x $found ]]; then
            CHROMIUM_BIN=$found
            return 0
        fi
    done
    command -v apt-get >/dev/null 2>&1 || die "no Chromium (/usr/bin/chromium) and no apt-get to install it; set CHROMIUM_BIN"
    log "installing Debian's chromium package (apt-get)…"
    local started=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >&2 || { apt-get -o DPkg::Lock::Timeout=600 update -q >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >&2; } ||
        die "apt-get install chromium failed"
    [[ -x /usr/bin/chromium ]] || die "the chromium package did not install /usr/bin/chromium"
    CHROMIUM_BIN=/usr/bin/chromium
    log "chromium installed in $((SECONDS - started)) s"
}

ensure_node() {
    NODE_BIN=$(command -v node 2>/dev/null || true)
    [[ -n $NODE_BIN ]] || die "Node.js >= $MIN_NODE_MAJOR is needed (apt-get install nodejs npm)"
    local v
    v=$("$NODE_BIN" --version)
    v=${v#v}
    ((${v%%.*} >= MIN_NODE_MAJOR)) || die "playwright-core needs Node >= $MIN_NODE_MAJOR, $NODE_BIN is $v"
}

install_node_packages() {
    command -v npm >/dev/null 2>&1 || die "npm is needed (apt-get install npm)"
    local hash
    if command -v sha256sum >/dev/null 2>&1; then
        hash=$(sha256sum "$NODE_PROJECT/package-lock.json" | cut -c1-16)
    else
        hash=$(shasum -a 256 "$NODE_PROJECT/package-lock.json" | cut -c1-16) # macOS
    fi
    LOYALTY_E2E_DIR=$CACHE/node/e2e-$hash
    if [[ ! -f $LOYALTY_E2E_DIR/.installed ]]; then
        log "installing the pinned Node packages into $LOYALTY_E2E_DIR (npm ci)…"
        local started=$SECONDS
        rm -rf "$LOYALTY_E2E_DIR"
        mkdir -p "$LOYALTY_E2E_DIR"
        cp "$NODE_PROJECT/package.json" "$NODE_PROJECT/package-lock.json" "$LOYALTY_E2E_DIR/"
        (cd "$LOYALTY_E2E_DIR" &&
            PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error --cache "$CACHE/npm" >&2) ||
            die "npm ci failed"
        touch "$LOYALTY_E2E_DIR/.installed"
        log "Node packages installed in $((SECONDS - started)) s"
    fi
}

setup() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.browser.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    ensure_chromium
    ensure_node
    install_node_packages
    exec 9>&-
}

print_env() {
    printf 'export %s=%q\n' \
        CHROMIUM_BIN "$CHROMIUM_BIN" NODE_BIN "$NODE_BIN" LOYALTY_E2E_DIR "$LOYALTY_E2E_DIR" \
        LOYALTY_E2E_DRIVER "$NODE_PROJECT/driver.cjs"
}

cmd=${1:-env}
case $cmd in
    -h | --help | help) usage ;;
    env)
        setup
        print_env
        ;;
    exec)
        shift
        [[ $# -gt 0 ]] || die "exec needs a command"
        setup
        eval "$(print_env)"
        exec "$@"
        ;;
    *) usage; die "unknown command '$cmd'" ;;
esac
