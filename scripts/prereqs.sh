#!/bin/sh
# Installs what building and running Berth needs on Debian 12, as root. Idempotent: a
# package already present is not fetched again. Extra package names may be passed.
set -eu
need="openjdk-17-jdk-headless maven gcc make libc6-dev libseccomp-dev busybox-static iproute2 nftables util-linux procps $*"
missing=""
for p in $need; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
