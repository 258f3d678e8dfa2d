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

# apt-get, waiting while another apt on the machine holds its locks (at most 30 tries, 5 s apart).
apt_get() {
    local try err
    for try in $(seq 30); do
        if err=$(apt-get -o DPkg::Lock::Timeout=60 "$@" 2>&1 >/dev/null); then
            return 0
        fi
        if ! grep -qiE 'could not get lock|unable to lock|unable to acquire' <<<"$err" || ((try == 30)); then
            echo "$err" >&2
            return 1
        fi
        echo "install-bird2.sh: another apt holds its lock; trying again in 5 s" >&2
        sleep 5
    done
}

if ! (cd "$tmp" && apt-get download bird2 >/dev/null 2>&1); then
    apt_get update -qq
    (cd "$tmp" && apt_get download bird2)
fi
missing=()
for lib in "${libs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$lib" 2>/dev/null | grep -q '^install ok installed' || missing+=("$lib")
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt_get install -y -qq --no-install-recommends "${missing[@]}"; then
        apt_get update -qq
        apt_get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

mkdir -p "$prefix"
dpkg -x "$tmp"/bird2_*.deb "$prefix"

if ! installed; then
    ldd "$prefix/usr/sbin/bird" "$prefix/usr/sbin/birdc" | grep 'not found' >&2 || true
    echo "install-bird2.sh: libraries still missing (see above)" >&2
    exit 1
fi
echo "bird2 installed in $prefix: $("$prefix/usr/sbin/bird" --version 2>&1)"
