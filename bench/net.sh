#!/bin/sh
# Network benchmark: throughput and latency of a TCP stream into a container through a
# published port (kernel NAT), against the same stream to the container's address directly,
# through a userland relay (docker-proxy's way), and to the same servers on loopback without a
# container, paired in one run. Writes bench/results/net.md.
#
# Run as root from anywhere in the repository. Not a test: the test suite never runs it.
#
# Environment: ROUNDS (11), WARMUP (2), SIZE_MIB (256, per stream), RTTS (5000 round trips per
# latency run), MSG_BYTES (1), CONNECTS (50 per setup run), BERTH_TARGET (the build directory,
# "target"), BENCH_BUILD=1 (build even when the jars exist), OUT (bench/results/net.md),
# VARIANTS (comma list of nat,direct,relay,loopback; default: all).
#
# Everything happens in a network namespace of its own (bn-XXXX): the private berthd runs in
# it (its mounts stay in the host's mount namespace), so its bridge, veths and nft table are
# there, and the harness runs in it, so its traffic never leaves it: 127.0.0.1 and the
# bridge's subnet only. On exit, failure and Ctrl-C included, it removes every container, the
# berthd, mounts below its temp dir, cgroups (/sys/fs/cgroup/*/bn-XXXX, bn-XXXX-floor), every
# process in the namespace, the namespace and the temp dir.
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
ROUNDS=${ROUNDS:-11}
WARMUP=${WARMUP:-2}
SIZE_MIB=${SIZE_MIB:-256}
RTTS=${RTTS:-5000}
MSG_BYTES=${MSG_BYTES:-1}
CONNECTS=${CONNECTS:-50}
OUT=${OUT:-bench/results/net.md}

if [ "$(id -u)" != 0 ]; then
  echo "net.sh: run as root (network namespaces, containers, cgroups and mounts need it)" >&2
  exit 1
fi
for c in ip nsenter nft; do
  command -v "$c" >/dev/null 2>&1 || { echo "net.sh: $c is needed (iproute2, util-linux, nftables)" >&2; exit 1; }
done
if [ ! -x /bin/busybox ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y busybox-static
fi

# --- build what is missing
built() {
  ls agent/"$T"/berth-agent-*.jar bench/"$T"/berth-bench-*.jar >/dev/null 2>&1 \
    && [ -x agent/"$T"/native/berth-launcher ] && [ -d agent/"$T"/lib ] && [ -d bench/"$T"/lib ]
}
if [ "${BENCH_BUILD:-0}" = 1 ] || ! built; then
  mvn -q -DskipTests -Dberth.target="$T" -pl agent,bench -am package
fi
agent_jar=$(ls "$PWD"/agent/"$T"/berth-agent-*.jar | head -n 1)
bench_jar=$(ls "$PWD"/bench/"$T"/berth-bench-*.jar | head -n 1)
launcher=$PWD/agent/$T/native/berth-launcher

# --- private temp dir, namespace and kernel prefix, cleanup (the trap is set before anything is made)
tmp=$(mktemp -d /tmp/bnXXXX)
ns="bn-${tmp#/tmp/bn}"
agent_pid=""
harness_pid=""

# Kill -9 every process listed in the cgroup directories below $1 (a glob).
kill_cgroups() {
  for procs in $(find $1 -name cgroup.procs 2>/dev/null); do
    for pid in $(cat "$procs" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null
    done
  done
}

cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  set +e
  # The harness removes its container and stops its servers on SIGTERM (a shutdown hook).
  if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
    kill "$harness_pid"
    for _ in $(seq 1 40); do
      kill -0 "$harness_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$harness_pid" 2>/dev/null
    wait "$harness_pid" 2>/dev/null
  fi
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid"
    for _ in $(seq 1 20); do
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  # Whatever still runs in our cgroups (shims, containers, the floor's servers), then in the namespace.
  for _ in 1 2 3; do
    kill_cgroups "/sys/fs/cgroup/*/$ns /sys/fs/cgroup/*/$ns-floor"
    sleep 0.1
  done
  if [ -e "/run/netns/$ns" ]; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null
    done
  fi
  # Mounts below the temp dir (rootfs overlays, network namespace pins), deepest first.
  awk -v d="$tmp/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m"
  done
  # Cgroup directories, deepest first.
  for top in /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/*/"$ns"-floor; do
    [ -d "$top" ] || continue
    find "$top" -depth -type d | while read -r d; do
      rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; }
    done
  done
  [ -e "/run/netns/$ns" ] && ip netns del "$ns"
  if awk -v d="$tmp/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "net.sh: mounts remain below $tmp; not deleting it" >&2
  else
    rm -rf "$tmp"
  fi
  left=$(ls -d /sys/fs/cgroup/*/"$ns" /sys/fs/cgroup/*/"$ns"-floor 2>/dev/null)
  [ -z "$left" ] || echo "net.sh: cgroups remain: $left" >&2
  ip netns list 2>/dev/null | grep -q "^$ns\\b" && echo "net.sh: network namespace $ns remains" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

ip netns add "$ns"
ip -n "$ns" link set lo up
sh scripts/busybox-rootfs.sh "$tmp/busybox.tar"

# --- a private berthd in the namespace, with the default bridge network; flags as
# scripts/install.sh starts it (Atomix needs the two --add-opens; JDK 24+ also the others)
major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
flags="--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"
[ "${major%%.*}" -ge 24 ] 2>/dev/null && flags="$flags --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
mkdir -p "$tmp/data"
# shellcheck disable=SC2086
nsenter --net="/run/netns/$ns" -- java -XX:+UseSerialGC -Xss512k $flags -cp "$PWD/agent/$T/lib/*:$agent_jar" \
  dev.berth.agent.AgentMain --data-dir "$tmp/data" --socket "$tmp/s.sock" --prefix "$ns" \
  --launcher "$launcher" >"$tmp/berthd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  [ -S "$tmp/s.sock" ] && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$tmp/berthd.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$tmp/s.sock" ] || { echo "net.sh: berthd did not start" >&2; cat "$tmp/berthd.log" >&2; exit 1; }

# --- the harness, in the same namespace
set -- -XX:+UseSerialGC -cp "$PWD/bench/$T/lib/*:$bench_jar" dev.berth.bench.NetThroughput \
  --socket "$tmp/s.sock" --import "$tmp/busybox.tar" --image-ref busybox:latest --image busybox \
  --prefix "$ns" --rounds "$ROUNDS" --warmup "$WARMUP" --size-mib "$SIZE_MIB" --rtts "$RTTS" \
  --msg-bytes "$MSG_BYTES" --connects "$CONNECTS" --out "$OUT"
[ -n "${VARIANTS:-}" ] && set -- "$@" --variants "$VARIANTS"
nsenter --net="/run/netns/$ns" -- java "$@" &
harness_pid=$!
if ! wait "$harness_pid"; then
  harness_pid=""
  echo "net.sh: the harness failed; berthd's log:" >&2
  tail -n 30 "$tmp/berthd.log" >&2
  exit 1
fi
harness_pid=""
