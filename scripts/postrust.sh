#!/usr/bin/env bash
# scripts/postrust.sh — make the PostgREST-compatible server `postrust` available for the tests.
#
# Usage:
#   scripts/postrust.sh            install once if missing, then print the binary's path on stdout
#   scripts/postrust.sh --help
#
# The PostgREST storage tests (loyalty-native/tests/postgrest_store.rs) run `postrust-server` in front of
# the local PostgreSQL. They find it through POSTRUST_BIN, falling back to the path this script prints:
#
#   export POSTRUST_BIN=$(scripts/postrust.sh)
#
# The binary is ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}/postrust/bin/postrust. The first run builds it with
# `cargo install postrust-server` (several minutes); later runs only print the path. Progress goes to stderr.
# Idempotent; never reinstalls an existing binary (delete the directory to force a rebuild).

set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

CACHE=${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}
ROOT=$CACHE/postrust

# The crate `postrust-server` installs its binary as `postrust` (3.x); `postrust-server` is accepted too.
find_bin() {
    local name
    for name in postrust postrust-server; do
        if [[ -x $ROOT/bin/$name ]]; then
            printf '%s\n' "$ROOT/bin/$name"
            return 0
        fi
    done
    return 1
}

if found=$(find_bin); then
    printf '%s\n' "$found"
    exit 0
fi

echo "postrust.sh: installing postrust-server into $ROOT (takes several minutes)…" >&2
mkdir -p "$ROOT"
cargo install postrust-server --root "$ROOT" >&2

if found=$(find_bin); then
    printf '%s\n' "$found"
else
    echo "postrust.sh: cargo install finished but no binary is in $ROOT/bin" >&2
    ls -l "$ROOT/bin" >&2 || true
    exit 1
fi
