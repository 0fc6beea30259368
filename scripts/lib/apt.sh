# shellcheck shell=bash
# Debian packages a script needs. Source this file, then
# `apt_need WHY PKG...`: installs those of PKG that are not installed
# (apt-get update first, quietly), logging `installing PKG... WHY`; with
# APT_NO_RECOMMENDS=1, without their recommended packages.

apt_need() {
    local why=$1 pkg missing=() options=()
    [ "${APT_NO_RECOMMENDS:-0}" = 0 ] || options=(--no-install-recommends)
    shift
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    printf '==> installing %s%s\n' "${missing[*]}" "${why:+ $why}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null
}
