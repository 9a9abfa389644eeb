#!/bin/sh
# deps.sh - install every Debian package the build, the tests and the benchmark need.
# Installs only what is missing; needs root (or sudo) only when something is missing.
set -eu

PACKAGES="gcc make pkg-config git ca-certificates procps iproute2 perl clang-format
libevent-dev libcmocka-dev
gearman-job-server gearman-tools libgearman-dev php-cli php-gearman libgearman-client-perl
imagemagick
libpq-dev postgresql postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
libmariadb-dev mariadb-server mariadb-client"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "deps: missing packages and not root; run as root: apt-get install -y$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# Debian's gearman-job-server may start a service on 4730; our tests never use it, leave it be.
