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

# shellcheck source=lib/cached-install.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cached-install.sh"

# The crate `postrust-server` installs its binary as `postrust` (3.x); `postrust-server` is accepted too.
cached_install postrust postrust postrust-server -- postrust-server
