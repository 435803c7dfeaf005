#!/usr/bin/env bash
# scripts/app.sh — build and check the Mini App's page (loyalty-app/web → loyalty-app/dist/app).
#
# Usage:
#   scripts/app.sh install   npm ci in loyalty-app/web (skipped when package-lock.json has not changed);
#                            the npm cache lives in ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}/npm
#   scripts/app.sh types     regenerate loyalty-app/web/src/api-schema.ts from loyalty-core/src/api/openapi.json
#   scripts/app.sh build     install, regenerate the API types, type-check (tsc --noEmit) and build into
#                            loyalty-app/dist/app/ (committed, so the Rust crates build without Node)
#   scripts/app.sh check     for CI: install; fail when the API types generated from openapi.json differ
#                            from the committed ones, when tsc fails, when a fresh build differs from the
#                            committed loyalty-app/dist/app/, or when the first load (index.html and every
#                            JS/CSS file it loads) is above 100 KB gzip; prints the figure
#   scripts/app.sh size [DIR]   print the first load's gzip size of a built page (default the committed one)
#   scripts/app.sh --help
#
# Node: the system's when Vite supports it (^20.19 or >= 22.12), else the Node 22 that
# scripts/edge-tools.sh installs.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
WEB=$REPO_ROOT/loyalty-app/web
DIST=$REPO_ROOT/loyalty-app/dist/app
OPENAPI=$REPO_ROOT/loyalty-core/src/api/openapi.json
SCHEMA=$WEB/src/api-schema.ts
CACHE=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}
LIMIT_BYTES=$((100 * 1024))

log() { printf 'app: %s\n' "$*" >&2; }
die() { printf 'app: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; }

node_ok() {
    local v
    v=$("$1" --version 2>/dev/null) || return 1
    v=${v#v}
    local major=${v%%.*} rest=${v#*.}
    local minor=${rest%%.*}
    # Vite's engines: ^20.19.0 || >=22.12.0
    ((major > 22 || (major == 22 && minor >= 12) || (major == 20 && minor >= 19)))
}

use_node() {
    local system
    system=$(command -v node 2>/dev/null || true)
    if [[ -n $system ]] && node_ok "$system"; then
        return
    fi
    log "the system's Node is missing or one Vite does not support; using scripts/edge-tools.sh's Node 22"
    local env
    env=$("$SCRIPT_DIR/edge-tools.sh" env) || die "scripts/edge-tools.sh failed"
    eval "$env"
    [[ -n ${NODE_BIN:-} ]] || die "scripts/edge-tools.sh gave no NODE_BIN"
    PATH=$(dirname "$NODE_BIN"):$PATH
    export PATH
}

lock_hash() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$WEB/package-lock.json" | cut -c1-16
    else
        shasum -a 256 "$WEB/package-lock.json" | cut -c1-16
    fi
}

cmd_install() {
    use_node
    command -v npm >/dev/null 2>&1 || die "npm is needed (install Node.js and npm)"
    local stamp=$WEB/node_modules/.loyalty-lock-hash hash
    hash=$(lock_hash)
    if [[ -f $stamp && $(cat "$stamp") == "$hash" ]]; then
        return
    fi
    log "npm ci in loyalty-app/web…"
    mkdir -p "$CACHE/npm"
    (cd "$WEB" && npm ci --cache "$CACHE/npm" --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
    printf '%s\n' "$hash" >"$stamp"
}

# Writes the API types generated from openapi.json to $1.
gen_types() {
    (cd "$WEB" && node_modules/.bin/openapi-typescript "$OPENAPI" -o "$1" >/dev/null 2>&1) ||
        (cd "$WEB" && node_modules/.bin/openapi-typescript "$OPENAPI" -o "$1") ||
        die "openapi-typescript failed"
}

typecheck() {
    log "tsc --noEmit…"
    (cd "$WEB" && node_modules/.bin/tsc --noEmit -p tsconfig.json) || die "the page does not type-check"
}

# Builds the page into $1.
vite_build() {
    log "vite build → ${1#"$REPO_ROOT"/}"
    (cd "$WEB" && node_modules/.bin/vite build --logLevel warn --outDir "$1" --emptyOutDir) || die "vite build failed"
}

# Prints the first load's size in bytes, gzip -9 per file: index.html and every local script,
# stylesheet and module preload it names.
first_load_bytes() {
    local dir=$1 total=0 f n
    [[ -f $dir/index.html ]] || die "no $dir/index.html"
    n=$(gzip -9 -c "$dir/index.html" | wc -c)
    total=$((total + n))
    printf '  %8d  %s\n' "$n" index.html >&2
    while IFS= read -r f; do
        [[ -n $f ]] || continue
        f=${f#./}
        [[ -f $dir/$f ]] || die "index.html loads $f, which the build does not have"
        n=$(gzip -9 -c "$dir/$f" | wc -c)
        total=$((total + n))
        printf '  %8d  %s\n' "$n" "$f" >&2
    done < <(grep -oE '<(script|link)[^>]*>' "$dir/index.html" |
        grep -E 'type="module"|rel="(stylesheet|modulepreload)"' |
        grep -oE '(src|href)="[^"]*"' | sed -E 's/^(src|href)="//; s/"$//' | grep -vE '^(https?:)?//' | sort -u)
    echo "$total"
}

cmd_size() {
    local dir=${1:-$DIST} total
    total=$(first_load_bytes "$dir")
    printf 'app: first load %d bytes gzip (%.1f KB; limit %d KB)\n' "$total" "$(awk -v b="$total" 'BEGIN { printf "%.1f", b / 1024 }')" $((LIMIT_BYTES / 1024))
    ((total <= LIMIT_BYTES)) || die "the first load is above $((LIMIT_BYTES / 1024)) KB gzip"
}

cmd_types() {
    cmd_install
    gen_types "$SCHEMA"
    log "wrote ${SCHEMA#"$REPO_ROOT"/}"
}

cmd_build() {
    cmd_types
    typecheck
    vite_build "$DIST"
    cmd_size "$DIST"
}

cmd_check() {
    cmd_install
    tmp=$(mktemp -d)
    trap 'rm -rf "${tmp:-}"' EXIT
    gen_types "$tmp/api-schema.ts"
    if ! diff -q "$SCHEMA" "$tmp/api-schema.ts" >/dev/null; then
        diff -u "$SCHEMA" "$tmp/api-schema.ts" | head -40 >&2 || true
        die "loyalty-app/web/src/api-schema.ts is not what openapi.json gives: run scripts/app.sh build and commit"
    fi
    typecheck
    vite_build "$tmp/app"
    if ! diff -r "$DIST" "$tmp/app" >/dev/null; then
        diff -r "$DIST" "$tmp/app" | head -20 >&2 || true
        die "loyalty-app/dist/app/ is not what the source builds to: run scripts/app.sh build and commit"
    fi
    cmd_size "$DIST"
    log "ok"
}

case ${1:-} in
install) cmd_install ;;
types) cmd_types ;;
build) cmd_build ;;
check) cmd_check ;;
size) shift; cmd_size "$@" ;;
-h | --help | help) usage ;;
*) usage; exit 2 ;;
esac
