#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need,
# checks formatting and lints, runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*"; }

# Node 20 and npm are on every machine here; install them if not.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing nodejs and npm"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi

# The real decompressors the packaging tests check files with, shellcheck,
# and ssh-keygen (the signature tests make their RSA keys with it).
# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh
apt_need "" gzip bzip2 xz-utils shellcheck openssh-client

# The Node imgmanifest peer for the differential test, pinned by its lock file.
if [ ! -f tests/node-peer/node_modules/imgmanifest/package.json ]; then
    log "installing the Node imgmanifest peer (tests/node-peer)"
    (cd tests/node-peer && npm ci --no-audit --no-fund --loglevel=error)
fi

# Every shell script, with the settings in .shellcheckrc (sourced files are
# followed).
log "shellcheck"
shellcheck scripts/*.sh scripts/lib/*.sh bench/*.sh fuzz/run.sh fixtures/base-image/make.sh .ci/run

# A real ZFS for the integration tests: zfs-fuse (installed and started if
# needed) and a file-backed pool for this run, destroyed at exit.
# shellcheck source=lib/zfs.sh
source scripts/lib/zfs.sh
ZFS_EXTRA_PACKAGES=(rsync busybox-static)
zfs_setup buildy-test 2G
export BUILDY_TEST_POOL=$ZFS_POOL

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The SmartOS code paths must build: check (and lint) for illumos, with
# Debian's Rust building std from source (installed if needed).
# shellcheck source=lib/illumos.sh
source scripts/lib/illumos.sh
illumos_check
log "cargo test"
# A watchdog: a deadlocked zfs-fuse must fail the run, not hang it.
timeout --signal=KILL 1800 cargo test --workspace
