# scripts/lib/cached-install.sh — sourced by the scripts that install a tool with `cargo install` once, into the
# cache outside the clone (so a fresh clone, and CI, reuse it), and print its path.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-install.sh"
#   cached_install DIR BIN [BIN…] -- CARGO_INSTALL_ARGS…
#
# Prints the first of $CACHE/DIR/bin/BIN… that exists. Without one, runs
# `cargo install CARGO_INSTALL_ARGS… --root $CACHE/DIR --target-dir $CACHE/build/DIR` first, at opt-level 1
# (LOYALTY_TOOL_OPT_LEVEL; its progress goes to stderr), then prints it. CACHE is ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}. Never reinstalls an existing binary:
# name DIR after the pinned version (`cargo-deny-0.20.2`) so that a new pin installs anew, or delete DIR to force it.

LOYALTY_CACHE_DIR=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}

cached_install() {
    local dir=$1 name
    shift
    local bins=()
    while (($#)) && [[ $1 != -- ]]; do
        bins+=("$1")
        shift
    done
    [[ ${1:-} == -- ]] || { echo "cached_install: expected -- before the cargo install arguments" >&2; return 2; }
    shift
    local root=$LOYALTY_CACHE_DIR/$dir
    _cached_bin() {
        for name in "${bins[@]}"; do
            if [[ -x $root/bin/$name ]]; then
                printf '%s\n' "$root/bin/$name"
                return 0
            fi
        done
        return 1
    }
    _cached_bin && return 0
    echo "installing $dir into $root with cargo install $* (takes several minutes)…" >&2
    mkdir -p "$root"
    # The tools serve the tests, not production: opt-level 1 compiles them faster than the release default (3),
    # which a fresh machine feels most. LOYALTY_TOOL_OPT_LEVEL=3 for the default.
    CARGO_PROFILE_RELEASE_OPT_LEVEL=${LOYALTY_TOOL_OPT_LEVEL:-1} \
        cargo install "$@" --root "$root" --target-dir "$LOYALTY_CACHE_DIR/build/$dir" >&2 || {
        echo "cargo install $* failed" >&2
        return 1
    }
    _cached_bin && return 0
    echo "cargo install finished but none of ${bins[*]} is in $root/bin" >&2
    ls -l "$root/bin" >&2 || true
    return 1
}
