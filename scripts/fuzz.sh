#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers of untrusted input (fuzz/, libFuzzer).
#
#   scripts/fuzz.sh smoke [SECONDS]      every target for SECONDS (default 10) from the committed
#                                        seeds: what the test command runs
#   scripts/fuzz.sh run TARGET SECONDS   one target, its corpus kept in ~/.cache/loyalty-rs/fuzz-corpus/TARGET
#   scripts/fuzz.sh list                 the targets
#
# Works on a stable toolchain: the coverage instrumentation is rustc's own SanitizerCoverage pass
# (-C passes=sancov-module), the same one cargo-fuzz turns on; no sanitizer runtime is needed
# because the code under test has no `unsafe`. A crash leaves its input in the working directory
# (crash-…) and fails the script.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}
target_dir=${LOYALTY_FUZZ_TARGET_DIR:-$cache/fuzz-target}
targets=(webhook init_data sentry_signature pos_api store_answers)
# With an explicit --target, RUSTFLAGS reach the fuzzed code only, not the build scripts.
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release

build() {
    if ! command -v c++ >/dev/null; then
        echo "fuzz: installing a C++ compiler for libFuzzer (g++)…" >&2
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq g++ >/dev/null
    fi
    local flags="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
    flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
    flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
    RUSTFLAGS="$flags" cargo build --quiet --manifest-path "$root/fuzz/Cargo.toml" --release --locked \
        --target "$host" --target-dir "$target_dir" --bins
}

# run TARGET SECONDS CORPUS: fuzz, then print one line of figures.
run() {
    local target=$1 secs=$2 corpus=$3 log
    mkdir -p "$corpus"
    log=$(mktemp)
    if ! "$bin_dir/$target" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "$corpus" "$root/fuzz/seeds/$target" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz: $target FAILED (its input is in the crash-* file named above)" >&2
        rm -f "$log"
        return 1
    fi
    local runs cov
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    printf 'fuzz: %-17s %4ss  %10s runs  coverage %5s edges  corpus %s inputs\n' \
        "$target" "$secs" "${runs:-?}" "${cov:-?}" "$(find "$corpus" -type f | wc -l)"
    rm -f "$log"
}

case ${1:-smoke} in
    list) printf '%s\n' "${targets[@]}" ;;
    smoke)
        secs=${2:-10}
        build
        scratch=$(mktemp -d)
        trap 'rm -rf "$scratch"' EXIT
        for t in "${targets[@]}"; do run "$t" "$secs" "$scratch/$t"; done
        ;;
    run)
        [ $# -eq 3 ] || { echo "usage: scripts/fuzz.sh run TARGET SECONDS" >&2; exit 2; }
        build
        run "$2" "$3" "$cache/fuzz-corpus/$2"
        ;;
    *) echo "usage: scripts/fuzz.sh smoke [SECONDS] | run TARGET SECONDS | list" >&2; exit 2 ;;
esac
