#!/bin/sh
# Runs Berth's whole test suite: unit tests, gRPC tests, and the real-Linux tests that
# start containers (they need root; as another user they skip with the reason).
set -eu
cd "$(dirname "$0")/.."
# The registry tests run Debian's docker-registry, and build and push images with umoci and
# skopeo; htpasswd makes the basic-auth file. The metrics tests scrape an agent with Debian's
# prometheus, and check the alert rules with its promtool.
had_registry=$(dpkg-query -W -f='${Status}' docker-registry 2>/dev/null || true)
had_prometheus=$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null || true)
sh scripts/prereqs.sh docker-registry skopeo umoci apache2-utils prometheus openssl
# Installing the package starts a registry on :5000 where systemd runs; the tests start
# their own, so one that this script brought is stopped again (one the host had is left alone).
if [ "$had_registry" != "install ok installed" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
# Likewise the Prometheus server that the package starts on :9090.
if [ "$had_prometheus" != "install ok installed" ] && [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
# Java 17 is the release target; the default JDK of Debian 12 is used unless JAVA_HOME says otherwise.
exec mvn -B -ntp verify "$@"
