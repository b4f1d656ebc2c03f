#!/bin/sh
# Metrics scrape benchmark: GET /metrics of one real berthd while it runs COUNTS busybox
# `sleep 3600` containers (100, then 1,000), against `podman stats --no-stream --format json`
# over as many of the same containers (every container's cgroup statistics read and reported:
# the same work). Writes bench/results/scrape.md.
#
# Run as root from anywhere in the repository. Not a test: the test suite never runs it.
#
# Environment: COUNTS (100,1000), SCRAPES (20 of each kind per count), WARMUP (10 uncounted
# scrapes first: the agent's JIT reaches the steady state of an agent scraped for minutes),
# GAP_MS (1200: more than the agent's 1 s reading cache, so that every scrape pays a full
# reading), PARALLEL (4 containers started at a time), PODMAN_SETUP_LIMIT_S (900: podman is
# measured at the count it reached when starting its containers takes longer), BERTH_TARGET
# (the build directory, "target"), BENCH_BUILD=1 (build even when the jars exist), OUT
# (bench/results/scrape.md), PODMAN=0 (Berth alone), AGENT_JAVA_OPTS (berthd's JVM flags;
# default those of scripts/install.sh), PODMAN_SECURITY_OPT (given to every `podman run`, e.g.
# seccomp=unconfined; default none: podman's own seccomp profile, as Berth applies its own).
#
# The containers run with `--network none` on both sides: a bridge and a veth pair per container
# would make 1,000 of them measure the bridge's set-up, not the scrape; a scrape reads
# /proc/PID/net/dev whatever the network, loopback only here.
#
# It leaves nothing behind: its berthd (by pid), every container, cgroup
# (/sys/fs/cgroup/*/bench-XXXX for Berth's, /sys/fs/cgroup/*/berth-bench-scrape-XXXX for
# podman's), mount, podman store and temp dir are removed on exit, failure and Ctrl-C included.
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
COUNTS=${COUNTS:-100,1000}
SCRAPES=${SCRAPES:-20}
WARMUP=${WARMUP:-10}
GAP_MS=${GAP_MS:-1200}
PARALLEL=${PARALLEL:-4}
PODMAN=${PODMAN:-1}
PODMAN_SECURITY_OPT=${PODMAN_SECURITY_OPT:-}
OUT=${OUT:-bench/results/scrape.md}
export BERTH_TARGET="$T"

if [ "$(id -u)" != 0 ]; then
  echo "scrape.sh: run as root (containers, cgroups and mounts need it)" >&2
  exit 1
fi
[ -x /bin/busybox ] || { echo "scrape.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }
if [ "$PODMAN" = 1 ] && ! command -v podman >/dev/null 2>&1; then
  echo "scrape.sh: podman is not installed (apt-get install podman), or run with PODMAN=0" >&2
  exit 1
fi

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

tmp=$(mktemp -d /tmp/bsXXXX)
prefix="bench-${tmp#/tmp/bs}"
# podman's containers (and conmon) go below this cgroup in every hierarchy, so clean-up finds them.
cgparent="/berth-bench-scrape-${tmp#/tmp/bs}"
agent_pid=""
harness_pid=""
. bench/podman.sh

cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$harness_pid" ] && kill "$harness_pid" 2>/dev/null && wait "$harness_pid" 2>/dev/null
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid"
    for _ in $(seq 1 40); do
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  # Containers the harness did not remove (a run that failed): their shims and processes, then
  # their cgroups; Berth's below its prefix, podman's below its cgroup parent. podman's mounts
  # lived in the harness's private mount namespace and went with it.
  kill_cgroups "/sys/fs/cgroup/*/$prefix"
  kill_cgroups "/sys/fs/cgroup/*$cgparent"
  # Berth's mounts below the temp dir (rootfs overlays), deepest first.
  awk -v d="$tmp/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m"
  done
  left=$(ls -d /sys/fs/cgroup/*/"$prefix" /sys/fs/cgroup/*"$cgparent" 2>/dev/null)
  [ -z "$left" ] || echo "scrape.sh: cgroups remain: $left" >&2
  if awk -v d="$tmp/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "scrape.sh: mounts remain below $tmp; not deleting it" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- the image: a busybox rootfs tarball, imported into berthd (by the harness) and podman
sh scripts/busybox-rootfs.sh "$tmp/busybox.tar"

# --- podman: a configuration and a store of our own, never the host's; overlay, as Berth's rootfs
podman_conf "$tmp/podman" overlay

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
build="commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
changed=$(git status --porcelain 2>/dev/null | grep -c . || true)
[ "$changed" = 0 ] || build="$build with $changed files changed or added, not committed"
started=$(date -u +%Y-%m-%dT%H:%M:%S)

# --- a private berthd: its own data dir, socket, prefix and metrics port; no default bridge
# (the containers run with --network none). A free loopback port: one nothing listens on now;
# berthd must bind an explicit --metrics-addr, so a port taken in between fails loudly.
port=""
for _ in $(seq 1 50); do
  p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000 ))
  if ! ss -Htln "sport = :$p" | grep -q .; then port=$p; break; fi
done
[ -n "$port" ] || { echo "scrape.sh: found no free loopback port" >&2; exit 1; }
mkdir -p "$tmp/data"
major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
atomix="--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"
[ "${major%%.*}" -ge 24 ] 2>/dev/null && atomix="$atomix --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
agent_opts=${AGENT_JAVA_OPTS:--XX:+UseSerialGC -Xss512k}
# shellcheck disable=SC2086
java $agent_opts $atomix -cp "agent/$T/lib/*:$agent_jar" \
  dev.berth.agent.AgentMain --data-dir "$tmp/data" --socket "$tmp/berthd.sock" --prefix "$prefix" \
  --launcher "$launcher" --bridge none --metrics-addr "127.0.0.1:$port" >"$tmp/berthd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  [ -S "$tmp/berthd.sock" ] && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$tmp/berthd.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$tmp/berthd.sock" ] || { echo "scrape.sh: berthd did not start" >&2; cat "$tmp/berthd.log" >&2; exit 1; }

set -- -XX:+UseSerialGC -cp "$PWD/bench/$T/lib/*:$bench_jar" dev.berth.bench.ScrapeE2E \
  --socket "$tmp/berthd.sock" --import "$tmp/busybox.tar" --metrics-url "http://127.0.0.1:$port/metrics" \
  --agent-pid "$agent_pid" --counts "$COUNTS" --scrapes "$SCRAPES" --warmup "$WARMUP" --gap-ms "$GAP_MS" --parallel "$PARALLEL" \
  --out "$OUT.part"
if [ "$PODMAN" = 1 ]; then
  set -- "$@" --podman podman --podman-conf "$tmp/podman/containers.conf" \
    --podman-storage-conf "$tmp/podman/storage.conf" --podman-image localhost/busybox:bench \
    --cgroup-parent "$cgparent" --podman-setup-limit-s "${PODMAN_SETUP_LIMIT_S:-900}" \
    --podman-security-opt "$PODMAN_SECURITY_OPT"
fi
# The harness in a private mount namespace: /run a tmpfs of its own (for podman) and the unified
# hierarchy's controllers file masked, without which crun, podman's runtime, refuses hybrid
# cgroups. berthd stays outside; the harness reaches it through its socket and loopback.
# crun keeps each container's config.json, podman's seccomp profile in it, in /run/crun: a
# 16 MiB /run was full at about 585 containers ("No space left on device", then crun's
# seccomp_export_bpf failing), some 28 KiB each. tmpfs takes memory only for what is written.
pconf=""
[ "$PODMAN" = 1 ] && pconf=$tmp/podman/containers.conf
CONTAINERS_CONF=$pconf CONTAINERS_STORAGE_CONF=$tmp/podman/storage.conf BB_TAR=$tmp/busybox.tar unshare -m sh -c '
  if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers || exit 1
  fi
  mount -t tmpfs -o mode=0755,size=256m bench-run /run || exit 1
  if [ -n "$CONTAINERS_CONF" ]; then
    podman import --change "CMD [\"/bin/sh\"]" "$BB_TAR" localhost/busybox:bench >/dev/null || exit 1
  fi
  exec java "$@"' harness "$@" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
peer="podman $(podman --version 2>/dev/null | sed 's/^podman version //') with crun $(crun --version 2>/dev/null | sed -n 's/^crun version //p'), cgroupfs, overlay storage, \`run -d --network none --memory 8m${PODMAN_SECURITY_OPT:+ --security-opt $PODMAN_SECURITY_OPT}\`"
{
  echo "# Metrics: a /metrics scrape with 1,000 running containers, against podman stats"
  echo
  echo "Generated by \`bench/scrape.sh\` (harness \`bench/src/main/java/dev/berth/bench/ScrapeE2E.java\`)."
  echo
  echo "| fact | value |"
  echo "|---|---|"
  echo "| date (UTC) | $started |"
  echo "| nproc | $(nproc) |"
  echo "| CPU | $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1) |"
  echo "| kernel | $(uname -r) |"
  echo "| cgroups | $(if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo v2; elif [ -d /sys/fs/cgroup/unified ]; then echo 'v1 (hybrid: v2 mounted at unified, no controllers)'; else echo v1; fi) |"
  echo "| JDK | $(java -version 2>&1 | sed -n 2p) |"
  echo "| build | $build |"
  echo "| berthd | one agent, the embedded one-node cluster, \`--bridge none --metrics-addr 127.0.0.1:PORT\`, JVM flags \`$agent_opts\` |"
  echo "| containers | busybox \`sleep 3600\`, \`--network none\`, memory 8m, started $PARALLEL at a time |"
  [ "$PODMAN" = 1 ] && echo "| peer | $peer |"
  echo "| load average (1, 5, 15 min) | before $load_before; after $load_after |"
  echo
  cat "$OUT.part"
} >"$OUT"
rm -f "$OUT.part"
echo "wrote $OUT" >&2
