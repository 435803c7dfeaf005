#!/usr/bin/env bash
# scripts/test.sh — the project's test command (CI runs exactly this via .ci/run).
#
# Steps, failing fast:
#   1. cargo fmt --all -- --check
#   2. cargo clippy --workspace --all-targets --all-features -- -D warnings, and rustdoc with -D warnings;
#      clippy of loyalty-native with its default storage feature only (sqlite) and with
#      --no-default-features --features postgres; loyalty-core stays I/O-free:
#      `cargo tree -p loyalty-core -e normal --all-features` holds no HTTP client, hyper or tokio;
#      `cargo deny check bans licenses sources` against deny.toml (scripts/cargo-deny.sh: cargo-deny pinned,
#      installed once under ~/.cache/loyalty-rs; no `advisories`, which needs the network);
#      `cargo package` of the five published crates; scripts/app.sh check: the Mini App's page (loyalty-app/web)
#      type-checks against types generated from openapi.json, rebuilds to the committed loyalty-app/dist, and
#      loads ≤ 100 KB gzip
#   3. wasm32-unknown-unknown, through scripts/wasm-toolchain.sh: clippy (-D warnings, RUSTFLAGS=-Dwarnings)
#      of loyalty-core without features and with --features sentry, and of loyalty-testkit; clippy of
#      loyalty-edge and the Workers; then
#      scripts/build-workers.sh builds the four Workers and the tests' fixture Worker (wasm-bindgen, wasm-opt,
#      esbuild from scripts/edge-tools.sh) and fails when a Worker is above its size limit (its own,
#      about 2 % over its last measured gzip size; see the script)
#   4. tests: cargo nextest run --workspace --all-features --run-ignored all  +  cargo test --doc
#      (PostgreSQL is started if none answers; postrust, the PostgREST-compatible server, is installed once;
#      the ignored tests run the built Workers in workerd, and the Mini App in Debian's Chromium through
#      playwright-core — scripts/browser.sh installs both, in the background from the start)
#      (falls back to cargo test --workspace --all-features -- --include-ignored without cargo-nextest)
#   5. scripts/fuzz.sh smoke 10: every libFuzzer target of fuzz/ for 10 s from its seeds (clippy and fmt of
#      fuzz/ are in steps 1 and 2)
#
# Environment:
#   SKIP_WASM=1       skip step 3 and the Workers' tests (quick local runs; CI never sets it)
#   SKIP_POSTGRES=1   don't check/start PostgreSQL (machines without it; CI never sets it)
#   CI=true           wasm32 builds go to ~/.cache/loyalty-rs/wasm-target (LOYALTY_WASM_TARGET_DIR) instead of
#                     the clone's target/, so that a fresh clone reuses the compiled dependencies; no
#                     incremental compilation (CARGO_INCREMENTAL=0) for the clean clone's one build
#
# Host steps use the normal (rustup) cargo and the repo's target/ dir; the wasm step uses its own
# toolchain and target dir (see scripts/wasm-toolchain.sh). The last line is a plain
# "test.sh: N passed, N failed" tally of the test step.

set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

# A shell that sourced the wasm env must not leak it into the host steps.
if [[ ${LOYALTY_WASM_MODE:-} == debian ]]; then
    unset RUSTC RUSTDOC LOYALTY_WASM_MODE
fi

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
if [[ ${CI:-} == true && -z ${LOYALTY_WASM_TARGET_DIR:-} ]]; then
    export LOYALTY_WASM_TARGET_DIR=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}/wasm-target
fi
# A clean clone compiles everything once: incremental compilation's bookkeeping would only slow it down.
if [[ ${CI:-} == true ]]; then
    export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
fi
STEP_TOTAL=5
T_START=$SECONDS
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-test.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

step() {
    STEP_T0=$SECONDS
    printf '\n==> [%s/%s] %s\n' "$1" "$STEP_TOTAL" "$2"
}
step_done() { printf '<== ok (%s s)\n' "$((SECONDS - STEP_T0))"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}
die() {
    printf 'test.sh: error: %s\n' "$*" >&2
    exit 1
}

ensure_components() {
    cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 && return 0
    command -v rustup >/dev/null 2>&1 || die "cargo fmt / cargo clippy missing and no rustup to add them"
    echo "adding rustup components rustfmt and clippy…"
    # Bounded: rustup hangs where it cannot download.
    timeout 300 rustup component add rustfmt clippy || die "could not add rustfmt/clippy with rustup"
}

# PostgreSQL must answer on 127.0.0.1:5432 (trust auth, as on the project's machines). Nothing may use it
# yet; backends' tests will.
ensure_postgres() {
    if [[ ${SKIP_POSTGRES:-} == 1 ]]; then
        echo "SKIP_POSTGRES=1: not checking PostgreSQL"
        return 0
    fi
    if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        echo "PostgreSQL answers on 127.0.0.1:5432"
        return 0
    fi
    echo "PostgreSQL is not answering on 127.0.0.1:5432; starting it…"
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ -z $(ls /usr/lib/postgresql 2>/dev/null) ]]; then
        command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get (set SKIP_POSTGRES=1 to skip)"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql ||
            { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql; }
    fi
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    ver=${ver:-$(ls /usr/lib/postgresql | sort -V | tail -n1)}
    # No cluster (e.g. create_main_cluster = false): make a throwaway one that trusts local connections.
    [[ -d /etc/postgresql/$ver/main ]] || pg_createcluster "$ver" main -- --auth=trust
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    local _
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && { echo "PostgreSQL $ver answers on 127.0.0.1:5432"; return 0; }
        sleep 1
    done
    die "PostgreSQL did not come up on 127.0.0.1:5432 (set SKIP_POSTGRES=1 to skip)"
}

# Sum "N passed" / "N failed" over a test log: nextest's "Summary [...]" line and libtest's "test result:" lines.
tally() {
    awk '
        /^ *Summary \[/ || /^test result:/ {
            for (i = 1; i < NF; i++) {
                if ($(i + 1) ~ /^passed/) p += $i
                if ($(i + 1) ~ /^failed/) f += $i
            }
        }
        END { printf "%d %d\n", p, f }' "$1"
}

ensure_components

step 1 "cargo fmt --all -- --check (and of fuzz/)"
run cargo fmt --all -- --check
run cargo fmt --manifest-path fuzz/Cargo.toml -- --check
step_done

# loyalty-core keeps the protocols and no transport: nothing in its normal dependency tree may do HTTP or
# need an async runtime (the runtimes' adapters carry the requests out).
check_core_io_free() {
    printf '+ cargo tree -p loyalty-core -e normal --all-features  (no reqwest, hyper, tokio, …)\n'
    local tree found
    tree=$(cargo tree -p loyalty-core -e normal --all-features --prefix none --format '{p}' | sed 's/ (\*)$//' | sort -u)
    found=$(grep -E '^(reqwest|hyper|hyper-util|h2|tokio|postgrest|async-openai) ' <<<"$tree" || true)
    [[ -z $found ]] || die "loyalty-core must do no I/O, but its dependencies include: $(tr '\n' ' ' <<<"$found")"
    echo "loyalty-core: $(wc -l <<<"$tree") crates, none of them an HTTP client or an async runtime"
}

# One spelling of the async-trait Send split (docs/ARCHITECTURE.md): the cfg_attr pair, in every crate.
check_one_send_split() {
    local bad
    bad=$(grep -rnE --include='*.rs' '#\[(async_trait::)?async_trait(\(\?Send\))?\]' \
        loyalty-core loyalty-native loyalty-edge loyalty-testkit examples benches | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
    [[ -z $bad ]] || die "write #[cfg_attr(not(target_arch = \"wasm32\"), async_trait)] and its ?Send twin, not:
$bad"
}

# Chromium (Debian's package) and playwright-core for the Mini App's browser tests in step 4: mostly downloads,
# so they run beside the compilers of steps 2 and 3. Every apt-get of the scripts waits for the package lock
# (DPkg::Lock::Timeout) rather than failing when another one — the wasm toolchain's — holds it.
BROWSER_ENV=$LOG_DIR/browser.env
if [[ ${SKIP_WASM:-} != 1 ]]; then
    "$REPO_ROOT/scripts/browser.sh" env >"$BROWSER_ENV" 2>"$LOG_DIR/browser.log" &
    BROWSER_PID=$!
fi

step 2 "cargo clippy (workspace, all features; loyalty-native storage features); rustdoc -D warnings; I/O-free core; cargo deny; the Mini App's page"
run cargo clippy --workspace --all-targets --all-features -- -D warnings
# loyalty-native's storage backends are features (sqlite by default, postgres, postgrest).
run cargo clippy -p loyalty-native --all-targets -- -D warnings
run cargo clippy -p loyalty-native --all-targets --no-default-features --features postgres -- -D warnings
# The fuzz targets (their own crate, outside the workspace; built with instrumentation in step 5). Checked in
# the workspace's target dir: the dependencies they share with it (loyalty-core and most of its tree, at the
# same versions and features) are checked once, not again in a directory of their own.
run cargo clippy --manifest-path fuzz/Cargo.toml --locked --target-dir "$REPO_ROOT/target" --bins -- -D warnings
RUSTDOCFLAGS=-Dwarnings run cargo doc --workspace --all-features --no-deps --quiet
check_core_io_free
check_one_send_split
run "$REPO_ROOT/scripts/cargo-deny.sh" check bans licenses sources
# The published crates package (manifests, versions, every file the build includes); packaged together, so
# each finds the others in a local overlay of the registry. Not verified by a rebuild: the workspace build
# above compiles the same sources (a rebuild of each .crate would cost minutes on two cores).
# --allow-dirty: a clone that CI just checked out has no changes, a developer's tree may.
run cargo package --locked --no-verify --allow-dirty --quiet -p loyalty-core -p loyalty-testkit -p loyalty-app \
    -p loyalty-native -p loyalty-edge
# The Mini App's page: API types current with openapi.json, tsc, the committed build reproduced, ≤ 100 KB gzip.
run "$REPO_ROOT/scripts/app.sh" check
step_done

if [[ ${SKIP_WASM:-} == 1 ]]; then
    printf '\n==> [3/%s] wasm32: skipped (SKIP_WASM=1)\n' "$STEP_TOTAL"
else
    step 3 "wasm32-unknown-unknown: clippy of loyalty-core, the test kit, loyalty-app, loyalty-edge and the Workers; build-workers.sh"
    WASM=("$REPO_ROOT/scripts/wasm-toolchain.sh" cargo)
    WT=(--target wasm32-unknown-unknown --locked)
    export RUSTFLAGS=-Dwarnings # same flags for clippy and build, so the deps are built once
    "$REPO_ROOT/scripts/wasm-toolchain.sh" env >/dev/null # set-up (install / sysroot) announced on its own
    # clippy type-checks each crate for wasm32; the Workers below build them for real (loyalty-core with
    # sentry in the four Workers, loyalty-testkit in the fixture Worker), so no separate debug build.
    for features in "" "--features=sentry"; do
        run "${WASM[@]}" clippy -p loyalty-core "${WT[@]}" ${features:+"$features"} -- -D warnings
    done
    run "${WASM[@]}" clippy -p loyalty-testkit "${WT[@]}" -- -D warnings
    run "${WASM[@]}" clippy -p loyalty-app "${WT[@]}" -- -D warnings
    EDGE=(-p loyalty-edge -p loyalty-edge-client-webhook -p loyalty-edge-partner-webhook
        -p loyalty-edge-admin-webhook -p loyalty-edge-api -p loyalty-edge-test-fixture)
    run "${WASM[@]}" clippy "${EDGE[@]}" "${WT[@]}" -- -D warnings
    unset RUSTFLAGS
    run "$REPO_ROOT/scripts/build-workers.sh" client-webhook partner-webhook admin-webhook api \
        loyalty-edge/tests/fixture-worker
    eval "$("$REPO_ROOT/scripts/edge-tools.sh" env)" # WORKERD_BIN for loyalty-edge's tests
    # CHROMIUM_BIN and the driver for the browser tests (loyalty-native's and loyalty-edge's, ignored by default).
    printf '+ scripts/browser.sh env  (started before step 2)\n'
    wait "$BROWSER_PID" || { cat "$LOG_DIR/browser.log" >&2; die "scripts/browser.sh could not install Chromium or playwright-core"; }
    cat "$LOG_DIR/browser.log"
    # shellcheck disable=SC1090
    source "$BROWSER_ENV"
    step_done
fi


# The ignored tests are loyalty-edge's: they need the Workers built in step 3.
if [[ ${SKIP_WASM:-} == 1 ]]; then IGNORED=default; else IGNORED=all; fi

# The PostgREST-compatible server the PostgREST store's tests run against (cached outside the clone;
# the first install takes several minutes).
ensure_postrust() {
    POSTRUST_BIN=$("$REPO_ROOT/scripts/postrust.sh")
    export POSTRUST_BIN
    echo "postrust: $POSTRUST_BIN"
}

TEST_LOG=$LOG_DIR/tests.log
: >"$TEST_LOG"
if cargo nextest --version >/dev/null 2>&1; then
    step 4 "tests: cargo nextest run --workspace --all-features --run-ignored $IGNORED; cargo test --doc"
    ensure_postgres
    ensure_postrust
    run cargo nextest run --workspace --all-features --no-fail-fast --no-tests=warn --run-ignored "$IGNORED" 2>&1 \
        | tee -a "$TEST_LOG"
    run cargo test --doc --workspace --all-features --no-fail-fast 2>&1 | tee -a "$TEST_LOG"
else
    step 4 "tests: cargo test --workspace --all-features (cargo-nextest not installed)"
    ensure_postgres
    ensure_postrust
    if [[ $IGNORED == all ]]; then INCLUDE=(-- --include-ignored); else INCLUDE=(); fi
    run cargo test --workspace --all-features --no-fail-fast "${INCLUDE[@]}" 2>&1 | tee -a "$TEST_LOG"
fi
read -r PASSED FAILED < <(tally "$TEST_LOG")
step_done

# A short run of every fuzz target from the committed seeds (docs/FUZZING.md has the long runs' figures).
step 5 "fuzz smoke run: scripts/fuzz.sh smoke 10"
run "$REPO_ROOT/scripts/fuzz.sh" smoke 10
step_done

printf '\nAll checks passed in %s s.\n' "$((SECONDS - T_START))"
printf 'test.sh: %s passed, %s failed\n' "$PASSED" "$FAILED"
