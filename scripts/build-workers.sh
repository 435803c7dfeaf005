#!/usr/bin/env bash
# scripts/build-workers.sh — build the Workers in examples/edge/ to deployable bundles.
#
# Usage:
#   scripts/build-workers.sh [NAME…]     build the named Workers (default: all four:
#                                        client-webhook partner-webhook admin-webhook api); a NAME may
#                                        also be the path of a Worker crate (e.g. the tests' fixture,
#                                        loyalty-edge/tests/fixture-worker)
#   scripts/build-workers.sh --help
#
# For each NAME, into examples/edge/NAME/build/ (or PATH/build/):
#   1. cargo build -p <the crate> --target wasm32-unknown-unknown --profile wasm-release
#      (through scripts/wasm-toolchain.sh: rustup's target when installed, else the Debian route)
#   2. wasm-bindgen --target module --experimental-reset-state-function (the exact version of Cargo.lock)
#   3. wasm-opt -Oz                       → build/index_bg.wasm
#   4. esbuild bundles loyalty-edge/js/entry.mjs with the glue → build/worker.mjs (the `main` of wrangler.toml)
# then prints each Worker's wasm size, raw and gzip, and fails when one is above its limit: about 2 % over its own
# size when last measured (LIMITS below), so that no Worker's size creeps back up unnoticed — each Worker links
# only the code of its service, so they differ by up to ~110 KB; lower a limit as the size comes down
# (docs/PERFORMANCE.md, "Size"; what is in a Worker: scripts/wasm-size.sh). LOYALTY_WASM_GZIP_LIMIT, when set,
# holds every Worker to that one number instead. A Worker crate given by path is held to the largest limit. The
# test fixture Worker (loyalty-edge/tests/fixture-worker), which carries the test kit and is never deployed, is
# held to LOYALTY_FIXTURE_GZIP_LIMIT instead (default 3 MiB, the Workers platform's limit).
#
# LOYALTY_WASM_KEEP_NAMES=1 makes a profiling build: the wasm keeps its functions' names (scripts/profile-worker.sh).
#
# The tools come from scripts/edge-tools.sh (installed once under ~/.cache/loyalty-rs). wrangler runs this
# script as the [build] command of each example, so `npx wrangler dev` builds before it serves.

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
ALL=(client-webhook partner-webhook admin-webhook api)
# gzip bytes; measured 2026-12-07 (commit 9db71bd): client 573 441, partner 579 541, admin 679 855, api 665 619.
declare -A LIMITS=([client-webhook]=585000 [partner-webhook]=592000 [admin-webhook]=694000 [api]=679000)
LARGEST_LIMIT=694000
FIXTURE_LIMIT=${LOYALTY_FIXTURE_GZIP_LIMIT:-3145728}

log() { printf 'build-workers: %s\n' "$*" >&2; }
die() { printf 'build-workers: error: %s\n' "$*" >&2; exit 1; }

case ${1:-} in
    -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 0 ;;
esac

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
declare -A dirs crates
for name in "${names[@]}"; do
    if [[ -f $REPO_ROOT/examples/edge/$name/Cargo.toml ]]; then
        dir=$REPO_ROOT/examples/edge/$name
    elif [[ -f $REPO_ROOT/$name/Cargo.toml ]]; then
        dir=$REPO_ROOT/$name
    else
        die "no Worker named '$name' in examples/edge/ (nor a crate at $name)"
    fi
    dirs[$name]=$dir
    crates[$name]=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$dir/Cargo.toml" | head -n1)
done

eval "$("$SCRIPT_DIR/edge-tools.sh" env)"
eval "$("$SCRIPT_DIR/wasm-toolchain.sh" env)"
target_dir=${CARGO_TARGET_DIR:-$REPO_ROOT/target}

# The commit the Workers are built from tags their Sentry events (loyalty_core::adapters::sentry::
# default_release); a tree outside git, or a caller's own value, is left as it is.
if [[ -z ${LOYALTY_GIT_COMMIT:-} ]]; then
    LOYALTY_GIT_COMMIT=$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || true)
fi
export LOYALTY_GIT_COMMIT

packages=()
for name in "${names[@]}"; do packages+=(-p "${crates[$name]}"); done
log "compiling ${names[*]} for wasm32 ($LOYALTY_WASM_MODE toolchain)…"
(cd "$REPO_ROOT" && "$SCRIPT_DIR/wasm-toolchain.sh" cargo build --locked "${packages[@]}" \
    --target wasm32-unknown-unknown --profile wasm-release)

# A profiling build (scripts/profile-worker.sh) keeps the functions' names, so that V8's
# --perf-basic-prof names wasm frames; the code is the same. Never deploy one: it is larger.
if [[ ${LOYALTY_WASM_KEEP_NAMES:-0} == 1 ]]; then
    strip=(-g --strip-dwarf --strip-producers)
    log "LOYALTY_WASM_KEEP_NAMES=1: a profiling build, names kept"
else
    strip=(--strip-debug --strip-producers)
fi

failed=0
report=()
for name in "${names[@]}"; do
    crate=${crates[$name]//-/_}
    wasm=$target_dir/wasm32-unknown-unknown/wasm-release/$crate.wasm
    [[ -f $wasm ]] || die "cargo produced no $wasm"
    out=${dirs[$name]}/build
    gen=$out/gen
    rm -rf "$out"
    mkdir -p "$gen"
    "$WASM_BINDGEN_BIN" --target module --experimental-reset-state-function \
        --out-dir "$gen" --out-name index "$wasm"
    # Workers import a .wasm file as a compiled WebAssembly.Module with a plain import
    # (wasm-bindgen writes the source-phase form `import source`).
    sed 's/^import source wasmModule from "\.\/index_bg\.wasm";/import wasmModule from ".\/index_bg.wasm";/' \
        "$gen/index.js" >"$gen/index.js.tmp" && mv "$gen/index.js.tmp" "$gen/index.js" # (no `sed -i`: BSD sed differs)
    grep -q '^import wasmModule from "./index_bg.wasm";' "$gen/index.js" \
        || die "$name: unexpected wasm-bindgen output (no wasm import in index.js)"
    "$WASM_OPT_BIN" -Oz "${strip[@]}" --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-mutable-globals --enable-reference-types --enable-multivalue \
        "$gen/index_bg.wasm" -o "$out/index_bg.wasm"
    cp "$REPO_ROOT/loyalty-edge/js/entry.mjs" "$gen/entry.mjs"
    "$ESBUILD_BIN" "$gen/entry.mjs" --bundle --format=esm --platform=neutral --target=es2022 \
        --external:./index_bg.wasm --log-level=warning --log-override:import-is-undefined=silent \
        --outfile="$out/worker.mjs"
    rm -rf "$gen"
    raw=$(wc -c <"$out/index_bg.wasm" | tr -d ' ')
    gz=$(gzip -9 -c "$out/index_bg.wasm" | wc -c | tr -d ' ')
    js=$(wc -c <"$out/worker.mjs" | tr -d ' ')
    verdict=ok
    limit=${LOYALTY_WASM_GZIP_LIMIT:-${LIMITS[${name##*/}]:-$LARGEST_LIMIT}}
    [[ ${name##*/} == fixture-worker ]] && limit=$FIXTURE_LIMIT
    if [[ ${LOYALTY_WASM_KEEP_NAMES:-0} == 1 ]]; then
        verdict="profiling build (names kept; not held to the limit)"
    elif ((gz > limit)); then verdict="OVER THE LIMIT ($limit)"; failed=1; fi
    report+=("$(printf '%-16s wasm %8d B raw %8d B gzip   js %6d B   %s' "${name##*/}" "$raw" "$gz" "$js" "$verdict")")
done
printf 'build-workers: sizes (wasm-opt -Oz; gzip -9)\n' >&2
printf '  %s\n' "${report[@]}" >&2
((failed == 0)) || die "a Worker's wasm is above its limit (gzip)"
