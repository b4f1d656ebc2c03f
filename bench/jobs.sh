#!/bin/sh
# Jobs benchmark: the end-to-end time from JobService.Submit of a service of 100 busybox
# `sleep 3600` replicas (cpu 10m, memory 8m, strategy spread) on a real 3-agent cluster until
# JobService.Status reports all 100 running, over TRIALS trials; next to podman starting 100 of
# the same containers on this host, one at a time and PARALLEL at a time. Writes
# bench/results/jobs.md.
#
# Run as root from anywhere in the repository. Not a test: the test suite never runs it.
#
# Environment: TRIALS (5 rounds, each a Berth trial, a podman one-at-a-time trial and a podman
# parallel trial, after one small warm-up of each), REPLICAS (100), PARALLEL (4), POLL_MS (50,
# the Status polling period), BERTH_TARGET (the build directory, "target"), BENCH_BUILD=1 (build
# even when the jars exist), OUT (bench/results/jobs.md), PODMAN=0 (Berth alone).
#
# The cluster (one server, two plain members, each agent in a network namespace of its own) is
# brought up by deploy/cluster.sh and taken down by it on exit, failure and Ctrl-C included.
# podman runs with a configuration, a store and a cgroup parent of its own under a temp dir, in
# a private mount namespace (rootful podman creates /run/containers/networks whatever its
# configuration says; there /run is a tmpfs of its own): nothing of the host's podman is used.
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
TRIALS=${TRIALS:-5}
REPLICAS=${REPLICAS:-100}
PARALLEL=${PARALLEL:-4}
POLL_MS=${POLL_MS:-50}
PODMAN=${PODMAN:-1}
OUT=${OUT:-bench/results/jobs.md}
export BERTH_TARGET="$T"
export BERTH_CLUSTER_ROOT=${BERTH_CLUSTER_ROOT:-/tmp/berth-cluster}
script=$PWD/deploy/cluster.sh

if [ "$(id -u)" != 0 ]; then
  echo "jobs.sh: run as root (network namespaces, cgroups and mounts need it)" >&2
  exit 1
fi
[ -x /bin/busybox ] || { echo "jobs.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
if [ "$PODMAN" = 1 ] && ! command -v podman >/dev/null 2>&1; then
  echo "jobs.sh: podman is not installed (apt-get install podman), or run with PODMAN=0" >&2
  exit 1
fi

built() {
  ls agent/"$T"/berth-agent-*.jar bench/"$T"/berth-bench-*.jar >/dev/null 2>&1 \
    && [ -x agent/"$T"/native/berth-launcher ] && [ -d agent/"$T"/lib ] && [ -d bench/"$T"/lib ]
}
if [ "${BENCH_BUILD:-0}" = 1 ] || ! built; then
  mvn -q -DskipTests -Dberth.target="$T" -pl agent,bench -am package
fi
bench_jar=$(ls "$PWD"/bench/"$T"/berth-bench-*.jar | head -n 1)

tag=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
tmp=$(mktemp -d /tmp/bjXXXX)
# podman's containers (and conmon) go below this cgroup in every hierarchy, so clean-up finds them.
cgparent="/berth-bench-jobs-$tag"
current=""
harness_pid=""
. bench/podman.sh

cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$harness_pid" ] && kill "$harness_pid" 2>/dev/null && wait "$harness_pid" 2>/dev/null
  [ -n "$current" ] && [ -d "$BERTH_CLUSTER_ROOT/$current" ] && sh "$script" down "$current" >&2
  # podman's leftovers (a run that did not finish): whatever runs in its cgroups, then the cgroups.
  # Its mounts lived in the harness's private mount namespace and went with it.
  kill_cgroups "/sys/fs/cgroup/*$cgparent"
  left=$(ls -d /sys/fs/cgroup/*"$cgparent" 2>/dev/null)
  [ -z "$left" ] || echo "jobs.sh: cgroups remain: $left" >&2
  if awk -v d="$tmp/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "jobs.sh: mounts remain below $tmp; not deleting it" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- the image: a busybox rootfs tarball, imported into every agent (by the harness) and podman
sh scripts/busybox-rootfs.sh "$tmp/busybox.tar"

# --- podman: a configuration and a store of our own, never the host's; overlay, as Berth's rootfs:
# the image's layer below, a writable layer per container.
podman_conf "$tmp/podman" overlay

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The tree measured: others may be changing it; say so when it differs from its commit.
build="commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
changed=$(git status --porcelain 2>/dev/null | grep -c . || true)
[ "$changed" = 0 ] || build="$build with $changed files changed or added, not committed"
started=$(date -u +%Y-%m-%dT%H:%M:%S)
current="bj$tag"
t0=$(date +%s%3N)
sh "$script" up --id "$current" -n 3 -s 1 --timeout 300 >/dev/null
up_ms=$(( $(date +%s%3N) - t0 ))
echo "cluster $current up in $up_ms ms" >&2

set -- -XX:+UseSerialGC -cp "$PWD/bench/$T/lib/*:$bench_jar" dev.berth.bench.JobsBench \
  --root "$BERTH_CLUSTER_ROOT" --id "$current" --script "$script" --hosts n1,n2,n3 --via n2 \
  --import "$tmp/busybox.tar" --trials "$TRIALS" --replicas "$REPLICAS" --poll-ms "$POLL_MS" --out "$OUT.part"
if [ "$PODMAN" = 1 ]; then
  set -- "$@" --podman podman --podman-conf "$tmp/podman/containers.conf" \
    --podman-storage-conf "$tmp/podman/storage.conf" --podman-image localhost/busybox:bench \
    --cgroup-parent "$cgparent" --parallel "$PARALLEL"
fi
# The harness in a private mount namespace: /run a tmpfs of its own (for podman) and the unified
# hierarchy's controllers file masked, without which crun, podman's runtime, refuses hybrid
# cgroups. The agents stay outside; the harness reaches them through their sockets.
pconf=""
[ "$PODMAN" = 1 ] && pconf=$tmp/podman/containers.conf
CONTAINERS_CONF=$pconf CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf BB_TAR=$tmp/busybox.tar unshare -m sh -c '
  if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers || exit 1
  fi
  mount -t tmpfs -o mode=0755,size=16m bench-run /run || exit 1
  if [ -n "$CONTAINERS_CONF" ]; then
    podman import --change "CMD [\"/bin/sh\"]" "$BB_TAR" localhost/busybox:bench >/dev/null || exit 1
  fi
  exec java "$@"' harness "$@" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
peer="podman $(podman --version 2>/dev/null | sed 's/^podman version //') with crun $(crun --version 2>/dev/null | sed -n 's/^crun version //p'), cgroupfs, overlay storage, \`--network none --memory 8m --cpus 0.01\`"
{
  echo "# Jobs: $REPLICAS replicas from submit to running, against podman"
  echo
  echo "Generated by \`bench/jobs.sh\` (harness \`bench/src/main/java/dev/berth/bench/JobsBench.java\`)."
  echo
  echo "| fact | value |"
  echo "|---|---|"
  echo "| date (UTC) | $started |"
  echo "| nproc | $(nproc) |"
  echo "| CPU | $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1) |"
  echo "| kernel | $(uname -r) |"
  echo "| JDK | $(java -version 2>&1 | sed -n 2p) |"
  echo "| build | $build |"
  echo "| cluster | \`deploy/cluster.sh up -n 3 -s 1\`: n1 the Raft server, n2 and n3 plain members, each agent in a network namespace of its own (up in $up_ms ms) |"
  [ "$PODMAN" = 1 ] && echo "| peer | $peer |"
  echo "| load average (1, 5, 15 min) | before $load_before; after $load_after |"
  echo "| trials | $TRIALS rounds after one warm-up of 10 replicas each; every round a Berth trial, then podman one at a time, then $PARALLEL at a time |"
  echo
  cat "$OUT.part"
} >"$OUT"
rm -f "$OUT.part"
echo "wrote $OUT" >&2
