#!/usr/bin/env bash
# scripts/cargo-deny.sh — run cargo-deny, pinned, installed once outside the clone.
#
# Usage:
#   scripts/cargo-deny.sh [ARGS…]   install once if missing, then run `cargo-deny ARGS…` in the repository root,
#                                   e.g. scripts/cargo-deny.sh check bans licenses sources (what scripts/test.sh runs)
#   scripts/cargo-deny.sh --path    install once if missing, then print the binary's path on stdout
#   scripts/cargo-deny.sh --help
#
# The policy is deny.toml. The binary is ${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}/cargo-deny-<version>/bin/cargo-deny;
# the first run builds it with `cargo install --locked cargo-deny --version <version>` (several minutes), later
# runs reuse it, and a new pin below installs anew. `check bans licenses sources` needs no network once the
# crates are in cargo's cache; the `advisories` check would fetch the advisory database, and is not run.

set -euo pipefail

CARGO_DENY_VERSION=0.20.2

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/cached-install.sh
source "$REPO_ROOT/scripts/lib/cached-install.sh"

bin=$(cached_install "cargo-deny-$CARGO_DENY_VERSION" cargo-deny -- --locked cargo-deny --version "=$CARGO_DENY_VERSION")
if [[ ${1:-} == --path ]]; then
    printf '%s\n' "$bin"
    exit 0
fi
cd "$REPO_ROOT"
exec "$bin" "$@"
