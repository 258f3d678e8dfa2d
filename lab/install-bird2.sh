#!/usr/bin/env bash
# Install BIRD 2 into a private prefix (Debian's bird 1.6 and bird2 packages conflict).
# Usage: lab/install-bird2.sh [PREFIX]   (default: <repo>/.deps/bird2; run as root)
# Gives PREFIX/usr/sbin/bird and PREFIX/usr/sbin/birdc. Idempotent.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${1:-$repo/.deps/bird2}"

installed() {
    [[ -x "$prefix/usr/sbin/bird" && -x "$prefix/usr/sbin/birdc" ]] &&
        ! ldd "$prefix/usr/sbin/bird" "$prefix/usr/sbin/birdc" 2>/dev/null | grep -q 'not found'
}

if installed; then
    echo "bird2 already installed in $prefix: $("$prefix/usr/sbin/bird" --version 2>&1)"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-bird2.sh: run as root (it installs bird2's libraries with apt-get)" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The runtime libraries bird2 links against (apt-cache depends bird2), without bird2 itself.
libs=(libreadline8 libssh-gcrypt-4 libtinfo6)

if ! (cd "$tmp" && apt-get download bird2 >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$tmp" && apt-get download bird2)
fi
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${libs[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${libs[@]}" >/dev/null
fi

mkdir -p "$prefix"
dpkg -x "$tmp"/bird2_*.deb "$prefix"

if ! installed; then
    ldd "$prefix/usr/sbin/bird" "$prefix/usr/sbin/birdc" | grep 'not found' >&2 || true
    echo "install-bird2.sh: libraries still missing (see above)" >&2
    exit 1
fi
echo "bird2 installed in $prefix: $("$prefix/usr/sbin/bird" --version 2>&1)"
