#!/usr/bin/env bash
# scripts/wasm-size.sh — what is in a Worker's wasm, by section, data kind, crate, module and function.
#
# Usage:
#   scripts/wasm-size.sh [NAME] [TOP]   NAME: a Worker of examples/edge/ (default client-webhook); TOP: how many of
#                                       the largest functions to list (default 40). Prints Markdown on stdout.
#   scripts/wasm-size.sh --help
#
# It needs the Worker built (scripts/build-workers.sh NAME): it reads the shipped build/index_bg.wasm and, for the
# names, the wasm cargo left in the target dir, which it runs through the same wasm-bindgen and `wasm-opt -Oz` as
# the build but with `-g` (names kept; the code is the same). twiggy (https://crates.io/crates/twiggy) lists the
# functions; it is installed once under ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}/twiggy-<version> (a few minutes).
# The analysis is scripts/lib/wasm_size.py (python3). docs/SIZE.md is its output for the client Worker:
#   scripts/wasm-size.sh client-webhook > docs/SIZE.md

set -euo pipefail

TWIGGY_VERSION=0.8.0
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)

case ${1:-} in
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
esac
name=${1:-client-webhook}
top=${2:-40}
dir=$REPO_ROOT/examples/edge/$name
[[ -f $dir/Cargo.toml ]] || { echo "wasm-size: no Worker named '$name' in examples/edge/" >&2; exit 1; }
command -v python3 >/dev/null || { echo "wasm-size: python3 is needed" >&2; exit 1; }

# shellcheck source=lib/cached-install.sh
source "$SCRIPT_DIR/lib/cached-install.sh"
twiggy=$(cached_install "twiggy-$TWIGGY_VERSION" twiggy -- --locked twiggy --version "=$TWIGGY_VERSION")
eval "$("$SCRIPT_DIR/edge-tools.sh" env)"
eval "$("$SCRIPT_DIR/wasm-toolchain.sh" env)"

crate=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$dir/Cargo.toml" | head -n1)
raw=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/wasm32-unknown-unknown/wasm-release/${crate//-/_}.wasm
shipped=$dir/build/index_bg.wasm
[[ -f $raw && -f $shipped ]] || { echo "wasm-size: build it first: scripts/build-workers.sh $name" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$WASM_BINDGEN_BIN" --target module --experimental-reset-state-function --out-dir "$work/gen" --out-name index "$raw"
"$WASM_OPT_BIN" -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$work/gen/index_bg.wasm" -o "$work/named.wasm"
"$twiggy" top -n 1000000 --format csv "$work/named.wasm" > "$work/top.csv"

commit=$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo "a tree outside git")
# Only the crates that go into a Worker matter here.
if ! git -C "$REPO_ROOT" diff --quiet HEAD -- Cargo.lock loyalty-core loyalty-edge examples/edge 2>/dev/null; then
    commit="$commit, with uncommitted changes"
fi
printf '# What is in the %s Worker\n\n' "$name"
printf 'Produced by `scripts/wasm-size.sh %s` on %s (commit %s), ' "$name" "$(date -u +%Y-%m-%d)" "$commit"
printf 'after `scripts/build-workers.sh %s`.\n\n' "$name"
python3 "$SCRIPT_DIR/lib/wasm_size.py" "$work/named.wasm" "$work/top.csv" "$shipped" "$top"
