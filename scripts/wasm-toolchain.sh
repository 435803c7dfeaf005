#!/usr/bin/env bash
# scripts/wasm-toolchain.sh — make a wasm32-unknown-unknown Rust toolchain available.
#
# Usage:
#   scripts/wasm-toolchain.sh [env]        set up, then print `export VAR=...` lines on stdout
#                                          (use: eval "$(scripts/wasm-toolchain.sh)")
#   scripts/wasm-toolchain.sh cargo ARGS…  set up, then exec the cargo command with the right env, e.g.
#                                          scripts/wasm-toolchain.sh cargo build -p loyalty-core --target wasm32-unknown-unknown
#                                          scripts/wasm-toolchain.sh cargo clippy -p loyalty-core --target wasm32-unknown-unknown -- -D warnings
#   scripts/wasm-toolchain.sh exec CMD…    set up, then exec any command with the env (e.g. worker-build)
#   scripts/wasm-toolchain.sh --help
#
# Progress goes to stderr; only the `env` output goes to stdout. Idempotent; a warm run takes well under a second.
#
# Two routes, chosen automatically (override with LOYALTY_WASM_MODE=rustup|debian):
#
#  * rustup: `rustup target list --installed` contains wasm32-unknown-unknown (a normal laptop after
#    `rustup target add wasm32-unknown-unknown`). Nothing special: the usual cargo/rustc/clippy are used.
#
#  * debian: rustup cannot download the target (as on the project's CI machines). Debian bookworm-security's
#    web toolchain is installed (rustc-web, cargo-web, rust-web-src, rust-web-llvm, rust-web-clippy, lld-22),
#    a wasm32 std is built once with -Zbuild-std into our own sysroot, and small wrappers make the target
#    look installed:
#      $CACHE/wasm-sysroot/                    sysroot (wasm32 std rlibs + symlinks to /usr/lib/rustlib/…),
#                                              stamped with a hash of `/usr/bin/rustc -vV` (rebuilt when it changes)
#      $CACHE/wasm-bin/rustc, rustdoc          `exec /usr/bin/rustc --sysroot=$CACHE/wasm-sysroot "$@"`
#      $CACHE/wasm-bin/clippy-driver           the same for /usr/bin/clippy-driver (--sysroot goes last there)
#      $CACHE/wasm-bin/cargo-clippy            a copy of /usr/bin/cargo-clippy (it runs the clippy-driver that sits
#                                              next to it, i.e. our wrapper)
#      $CACHE/env.sh                           the env below, for callers that `source` it
#    where CACHE=${LOYALTY_CACHE:-$HOME/.cache/loyalty-rs}. The env is:
#      RUSTC, RUSTDOC            the wrappers (cargo then needs no RUSTC_BOOTSTRAP and no extra flags;
#                                an unmodified worker-build also works, it checks `rustc --print target-libdir`)
#      LOYALTY_WASM_MODE         rustup | debian
#      LOYALTY_WASM_CARGO        the cargo to run: /usr/bin/cargo (Debian's; rustup's rustc 1.95 and clippy
#                                cannot read the 1.96 rlibs of this sysroot)
#      LOYALTY_WASM_CARGO_CLIPPY the cargo-clippy to run as `$LOYALTY_WASM_CARGO_CLIPPY clippy ARGS…`
#                                (with CARGO=$LOYALTY_WASM_CARGO); plain `cargo clippy` would find rustup's proxy
#                                in ~/.cargo/bin first
#    plus, printed by `env` and set by `cargo`/`exec` but not written to env.sh (it depends on the checkout):
#      CARGO_TARGET_DIR          ${LOYALTY_WASM_TARGET_DIR:-<repo>/target/wasm32}: wasm builds by the Debian toolchain
#                                never share a target dir with the host's rustup builds, so neither invalidates the
#                                other's fingerprints. (An inherited CARGO_TARGET_DIR is overridden; set
#                                LOYALTY_WASM_TARGET_DIR to move it.)
#
# Clippy for wasm: available on the Debian route (rust-web-clippy), used as above; `cargo clippy` through the
# `cargo` subcommand of this script is routed to it automatically.
#
# Never calls `rustup target add` (it hangs without network here).

set -euo pipefail

WASM_TARGET=wasm32-unknown-unknown
DEB_PACKAGES=(rustc-web cargo-web rust-web-src rust-web-llvm rust-web-clippy lld-22)
# Bump when the sysroot recipe below changes, to force a rebuild.
RECIPE_VERSION=1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
CACHE=${LOYALTY_CACHE:-${HOME:-/root}/.cache/loyalty-rs}
SYSROOT=$CACHE/wasm-sysroot
WBIN=$CACHE/wasm-bin
ENV_FILE=$CACHE/env.sh
WASM_TARGET_DIR=${LOYALTY_WASM_TARGET_DIR:-$REPO_ROOT/target/wasm32}

log() { printf 'wasm-toolchain: %s\n' "$*" >&2; }
die() { printf 'wasm-toolchain: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; }

# --- route selection -------------------------------------------------------------------------------------

rustup_has_wasm() {
    command -v rustup >/dev/null 2>&1 || return 1
    # Local query only, but bounded anyway: rustup must never be allowed to hang CI.
    local installed
    installed=$(cd "$REPO_ROOT" && timeout 30 rustup target list --installed 2>/dev/null) || return 1
    grep -qx "$WASM_TARGET" <<<"$installed"
}

choose_mode() {
    case "${LOYALTY_WASM_MODE:-}" in
        debian) MODE=debian ;;
        rustup)
            rustup_has_wasm || die "LOYALTY_WASM_MODE=rustup but rustup has no $WASM_TARGET target installed"
            MODE=rustup
            ;;
        "") if rustup_has_wasm; then MODE=rustup; else MODE=debian; fi ;;
        *) die "LOYALTY_WASM_MODE must be rustup or debian, not '$LOYALTY_WASM_MODE'" ;;
    esac
}

# --- Debian route: packages ------------------------------------------------------------------------------

deb_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}\n' "${DEB_PACKAGES[@]}" 2>/dev/null) || return 1
    [[ $(grep -c '^install ok installed$' <<<"$status") -eq ${#DEB_PACKAGES[@]} ]] &&
        [[ -d /usr/lib/rustlib/src/rust/library ]] && [[ -x /usr/bin/rustc ]]
}

ensure_debian_packages() {
    deb_installed && return 0
    command -v apt-get >/dev/null 2>&1 || die "no wasm32 target in rustup and no apt-get: run 'rustup target add $WASM_TARGET'"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    local t0=$SECONDS
    log "installing ${DEB_PACKAGES[*]} (Debian bookworm-security web toolchain)…"
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q "${DEB_PACKAGES[@]}" >&2; then
        log "apt-get install failed; running apt-get update and retrying"
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >&2
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q "${DEB_PACKAGES[@]}" >&2
    fi
    deb_installed || die "packages installed but /usr/lib/rustlib/src/rust/library is missing"
    log "packages installed in $((SECONDS - t0)) s"
}

# Workspace rust-version (e.g. 1.95) must not be newer than Debian's rustc-web.
check_rustc_version() {
    local have want
    have=$(/usr/bin/rustc -vV | sed -n 's/^release: \([0-9]*\.[0-9]*\).*/\1/p')
    want=$(sed -n 's/^rust-version *= *"\([0-9]*\.[0-9]*\).*/\1/p' "$REPO_ROOT/Cargo.toml" 2>/dev/null | head -n1)
    [[ -n $want && -n $have ]] || return 0
    if [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1) != "$want" ]]; then
        die "/usr/bin/rustc is $have but the workspace needs rust-version $want (is bookworm-security in apt sources?)"
    fi
}

# --- Debian route: sysroot -------------------------------------------------------------------------------

sysroot_stamp() {
    { /usr/bin/rustc -vV; echo "recipe=$RECIPE_VERSION target=$WASM_TARGET"; } | sha256sum | cut -d' ' -f1
}

build_sysroot() {
    local stamp=$1 t0=$SECONDS
    log "building the $WASM_TARGET std sysroot with -Zbuild-std (once per rustc-web version)…"
    local work=$CACHE/wasm-sysroot-build
    rm -rf "$work"
    mkdir -p "$work/src"
    cat >"$work/Cargo.toml" <<'EOF'
[package]
name = "loyalty_wasm_sysroot_probe"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "src/lib.rs"

[workspace]
EOF
    echo '#![no_std]' >"$work/src/lib.rs"
    (
        cd "$work"
        env -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u RUSTDOC -u CARGO_BUILD_TARGET -u CARGO_ENCODED_RUSTFLAGS \
            -u CARGO_BUILD_RUSTFLAGS -u CARGO_BUILD_TARGET_DIR \
            RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS=-Cembed-bitcode=yes CARGO_TARGET_DIR="$work/target" \
            /usr/bin/cargo build --release --quiet -Zbuild-std=std,panic_abort --target "$WASM_TARGET" >&2
    ) || die "building the wasm32 std failed (see above)"

    local new=$CACHE/wasm-sysroot.new
    rm -rf "$new"
    local libdir=$new/lib/rustlib/$WASM_TARGET/lib
    mkdir -p "$libdir"
    local rlib n=0
    for rlib in "$work/target/$WASM_TARGET/release/deps/"*.rlib; do
        case $(basename "$rlib") in libloyalty_wasm_sysroot_probe-*) continue ;; esac
        cp "$rlib" "$libdir/"
        n=$((n + 1))
    done
    [[ $n -gt 0 ]] || die "no std rlibs were produced"
    local d
    for d in /usr/lib/rustlib/*; do
        [[ $(basename "$d") == "$WASM_TARGET" ]] && continue
        ln -s "$d" "$new/lib/rustlib/$(basename "$d")"
    done
    echo "$stamp" >"$new/.stamp"
    rm -rf "$SYSROOT"
    mv "$new" "$SYSROOT"
    rm -rf "$work"
    log "sysroot ready ($n rlibs) in $((SECONDS - t0)) s: $SYSROOT"
}

# Write $1 with the content of stdin only if it differs (keeps warm runs free of writes), mode $2.
write_if_changed() {
    local dest=$1 mode=$2 tmp
    tmp=$(mktemp "$dest.XXXXXX")
    cat >"$tmp"
    if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
    else
        chmod "$mode" "$tmp"
        mv -f "$tmp" "$dest"
    fi
}

write_wrappers() {
    mkdir -p "$WBIN"
    local tool
    for tool in rustc rustdoc; do
        write_if_changed "$WBIN/$tool" 755 <<EOF
#!/bin/sh
# Generated by loyalty-rs scripts/wasm-toolchain.sh: Debian's $tool with the wasm32 sysroot.
exec /usr/bin/$tool --sysroot="$SYSROOT" "\$@"
EOF
    done
    # clippy-driver must see the rustc path that cargo passes as its first argument (wrapper mode),
    # so the sysroot goes last.
    write_if_changed "$WBIN/clippy-driver" 755 <<EOF
#!/bin/sh
# Generated by loyalty-rs scripts/wasm-toolchain.sh: Debian's clippy-driver with the wasm32 sysroot.
exec /usr/bin/clippy-driver "\$@" --sysroot="$SYSROOT"
EOF
    # cargo-clippy runs the clippy-driver next to its own (resolved) executable, so a copy placed here runs
    # the wrapper above; a symlink would not.
    if ! cmp -s /usr/bin/cargo-clippy "$WBIN/cargo-clippy" 2>/dev/null; then
        cp /usr/bin/cargo-clippy "$WBIN/cargo-clippy.tmp"
        mv -f "$WBIN/cargo-clippy.tmp" "$WBIN/cargo-clippy"
    fi
}

setup_debian() {
    # One set-up at a time (concurrent apt-get or sysroot builds would trip over each other).
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.wasm-toolchain.lock"
    flock 9
    ensure_debian_packages
    check_rustc_version
    local stamp
    stamp=$(sysroot_stamp)
    if [[ ! -f $SYSROOT/.stamp || $(cat "$SYSROOT/.stamp") != "$stamp" ]]; then
        build_sysroot "$stamp"
    fi
    write_wrappers
    write_if_changed "$ENV_FILE" 644 <<EOF
# Generated by loyalty-rs scripts/wasm-toolchain.sh (Debian route). Source it, then run
# "\$LOYALTY_WASM_CARGO" build --target $WASM_TARGET with CARGO_TARGET_DIR set to a wasm-only dir.
export LOYALTY_WASM_MODE=debian
export RUSTC=$WBIN/rustc
export RUSTDOC=$WBIN/rustdoc
export LOYALTY_WASM_CARGO=/usr/bin/cargo
export LOYALTY_WASM_CARGO_CLIPPY=$WBIN/cargo-clippy
EOF
    exec 9>&-
}

setup_rustup() {
    mkdir -p "$CACHE"
    write_if_changed "$ENV_FILE" 644 <<EOF
# Generated by loyalty-rs scripts/wasm-toolchain.sh (rustup route: the target is installed, nothing special).
export LOYALTY_WASM_MODE=rustup
export LOYALTY_WASM_CARGO=cargo
EOF
}

# Set the env in this process (for `cargo`/`exec`).
apply_env() {
    if [[ $MODE == debian ]]; then
        export LOYALTY_WASM_MODE=debian RUSTC=$WBIN/rustc RUSTDOC=$WBIN/rustdoc
        export LOYALTY_WASM_CARGO=/usr/bin/cargo LOYALTY_WASM_CARGO_CLIPPY=$WBIN/cargo-clippy
        export CARGO_TARGET_DIR=$WASM_TARGET_DIR
        unset RUSTC_WORKSPACE_WRAPPER
    else
        export LOYALTY_WASM_MODE=rustup LOYALTY_WASM_CARGO=cargo
    fi
}

print_env() {
    if [[ $MODE == debian ]]; then
        printf 'export %s=%q\n' \
            LOYALTY_WASM_MODE debian RUSTC "$WBIN/rustc" RUSTDOC "$WBIN/rustdoc" \
            LOYALTY_WASM_CARGO /usr/bin/cargo LOYALTY_WASM_CARGO_CLIPPY "$WBIN/cargo-clippy" \
            CARGO_TARGET_DIR "$WASM_TARGET_DIR"
    else
        printf 'export %s=%q\n' LOYALTY_WASM_MODE rustup LOYALTY_WASM_CARGO cargo
    fi
}

setup() {
    choose_mode
    if [[ $MODE == debian ]]; then setup_debian; else setup_rustup; fi
}

# --- main ------------------------------------------------------------------------------------------------

cmd=${1:-env}
case $cmd in
    -h | --help | help) usage; exit 0 ;;
    env)
        setup
        print_env
        ;;
    cargo)
        shift
        setup
        apply_env
        if [[ $MODE == debian && ${1:-} == clippy ]]; then
            export CARGO=/usr/bin/cargo
            exec "$WBIN/cargo-clippy" "$@"
        elif [[ $MODE == debian ]]; then
            exec /usr/bin/cargo "$@"
        else
            exec cargo "$@"
        fi
        ;;
    exec)
        shift
        [[ $# -gt 0 ]] || die "exec needs a command"
        setup
        apply_env
        exec "$@"
        ;;
    *) usage; die "unknown command '$cmd'" ;;
esac
