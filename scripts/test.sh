#!/bin/sh
# Runs Berth's whole test suite: unit tests, gRPC tests, and the real-Linux tests that
# start containers (they need root; as another user they skip with the reason).
set -eu
cd "$(dirname "$0")/.."
sh scripts/prereqs.sh
# Java 17 is the release target; the default JDK of Debian 12 is used unless JAVA_HOME says otherwise.
exec mvn -B -ntp verify "$@"
