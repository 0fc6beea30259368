# shellcheck shell=bash
# The illumos build check, on Linux: Rust's x86_64-unknown-illumos target
# has no prebuilt std here, but Debian's rustc-web, cargo-web and
# rust-web-src (bookworm-security) can build std from source
# (-Zbuild-std). This uses Debian's /usr/bin/cargo and /usr/bin/rustc
# explicitly: rustup's toolchain has neither an illumos std nor its source.
# Source this file, then call `illumos_check`.
#
# Only checking (no linking: there is no illumos linker or libc here).
# Crates that compile C (ring) use the host's gcc and ar for the objects.

# shellcheck source=apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

ILLUMOS_TARGET=x86_64-unknown-illumos
ILLUMOS_PACKAGES=(rustc-web cargo-web rust-web-src rust-web-clippy)

illumos_log() { printf '==> %s\n' "$*" >&2; }

illumos_install() {
    apt_need "(Debian's Rust, for building std for illumos)" "${ILLUMOS_PACKAGES[@]}"
}

# /usr/bin/cargo SUBCOMMAND for the illumos target, in a target directory
# of its own. PATH starts with /usr/bin so that `cargo clippy` finds
# Debian's cargo-clippy and clippy-driver, not rustup's proxies.
illumos_cargo() {
    local subcommand=$1
    shift
    PATH=/usr/bin:$PATH \
        RUSTC=/usr/bin/rustc \
        RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/illumos" \
        CC_x86_64_unknown_illumos=gcc \
        AR_x86_64_unknown_illumos=ar \
        /usr/bin/cargo "$subcommand" -Zbuild-std=std,panic_abort --target "$ILLUMOS_TARGET" \
        --workspace --all-targets "$@"
}

illumos_check() {
    illumos_install
    illumos_log "cargo check --target $ILLUMOS_TARGET (Debian's $(/usr/bin/rustc --version))"
    local started=$SECONDS
    illumos_cargo check --quiet
    illumos_log "illumos check passed in $((SECONDS - started)) s"
    illumos_log "cargo clippy --target $ILLUMOS_TARGET"
    illumos_cargo clippy --quiet -- -D warnings
}
