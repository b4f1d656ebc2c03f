#!/bin/sh
# Pull benchmark: an image of LAYERS layers of LAYER_MB MiB of random data each (so gzip
# gains nothing) pulled from a local docker-registry into an empty store, by berthd's Pull
# RPC and by `skopeo copy docker://… oci:DIR`, paired in one run. Writes
# bench/results/pull.md. Run as root from the repository. Not a test.
#
# Environment: LAYERS (5), LAYER_MB (20), ROUNDS (5), BERTH_TARGET (build dir, "target"),
# OUT (bench/results/pull.md), AGENT_JAVA_OPTS (more JVM options for berthd, e.g.
# "-XX:StartFlightRecording=filename=/tmp/pull.jfr,settings=profile" to profile it).
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
LAYERS=${LAYERS:-5}
LAYER_MB=${LAYER_MB:-20}
ROUNDS=${ROUNDS:-5}
OUT=${OUT:-bench/results/pull.md}
missing=""
for p in skopeo umoci docker-registry; do
  command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y $missing
fi
if ! ls agent/"$T"/berth-agent-*.jar bench/"$T"/berth-bench-*.jar >/dev/null 2>&1; then
  mvn -q -DskipTests -Dberth.target="$T" -pl agent,bench -am package
fi
tmp=$(mktemp -d /tmp/bpXXXX)
registry_pid=""
cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null && wait "$registry_pid" 2>/dev/null
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the image: an empty base, then LAYERS layers of random data
umoci init --layout "$tmp/oci" >/dev/null
umoci new --image "$tmp/oci:1"
i=1
while [ "$i" -le "$LAYERS" ]; do
  umoci unpack --rootless --image "$tmp/oci:1" "$tmp/bundle" >/dev/null
  head -c "$((LAYER_MB * 1024 * 1024))" /dev/urandom > "$tmp/bundle/rootfs/blob-$i"
  umoci repack --image "$tmp/oci:1" "$tmp/bundle"
  rm -rf "$tmp/bundle"
  i=$((i + 1))
done

# --- a registry on a free loopback port
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/registry"
cat > "$tmp/registry.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $tmp/registry}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/v2/')" 2>/dev/null && break
  sleep 0.1
done
ref="127.0.0.1:$port/bench/big:1"
skopeo copy -q --dest-tls-verify=false "oci:$tmp/oci:1" "docker://$ref"

agent_cp="$PWD/agent/$T/lib/*:$(ls "$PWD"/agent/"$T"/berth-agent-*.jar | head -n 1)"
java -XX:+UseSerialGC -cp "bench/$T/lib/*:$(ls bench/"$T"/berth-bench-*.jar | head -n 1)" dev.berth.bench.PullThroughput \
  --reference "$ref" --agent-classpath "$agent_cp" --launcher "$PWD/agent/$T/native/berth-launcher" \
  --tmp "$tmp" --rounds "$ROUNDS" --out "$OUT" --registry-pid "$registry_pid" \
  --agent-java-options "${AGENT_JAVA_OPTS:-}" \
  --describe "$LAYERS layers of $LAYER_MB MiB of random data, gzip (umoci), OCI manifest, docker-registry on 127.0.0.1"
[ -f bench/pull-findings.md ] && cat bench/pull-findings.md >> "$OUT"
echo "wrote $OUT"
