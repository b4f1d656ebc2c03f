#!/bin/sh
# Start-up latency benchmark: `/bin/true` in a container through Berth's gRPC API and CLI,
# against `crun run`, `runc run` and a bare `unshare ... chroot` floor, paired in one run;
# and `berth ps` against `podman ps`. Writes bench/results/startup.md.
#
# Run as root from anywhere in the repository, after `mvn -q -DskipTests package` (it builds
# what is missing itself). Not a test: the test suite never runs it.
#
# Environment: WARMUP (5), ROUNDS (30), PS_RUNS (20), BERTH_TARGET (the build directory of
# every module, "target"), BENCH_BUILD=1 (build even when the jars exist), OUT
# (bench/results/startup.md), VARIANTS (comma list of variant ids; default: all).
# AGENT_JAVA_OPTS: berthd's JVM flags (default: those scripts/install.sh gives it).
# For experiments only: AGENT_WRAPPER (a command berthd runs under, e.g. a subreaper) and
# AGENT_CP_PREFIX (class path entries put before the agent's, e.g. a patched class).
#
# It leaves nothing behind: its berthd, every container, cgroup (/sys/fs/cgroup/*/bench-XXXX),
# mount, OCI runtime state, podman store and temp dir are removed on exit, failure included.
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
WARMUP=${WARMUP:-5}
ROUNDS=${ROUNDS:-30}
PS_RUNS=${PS_RUNS:-20}
OUT=${OUT:-bench/results/startup.md}

if [ "$(id -u)" != 0 ]; then
  echo "startup.sh: run as root (containers, cgroups and mounts need it)" >&2
  exit 1
fi

# --- peers: installed only when absent
missing=""
for p in crun runc podman; do
  command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -x /bin/busybox ] || missing="$missing busybox-static"
if [ -n "$missing" ]; then
  echo "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y $missing
fi

# --- build what is missing
built() {
  ls agent/"$T"/berth-agent-*.jar bench/"$T"/berth-bench-*.jar >/dev/null 2>&1 \
    && [ -x agent/"$T"/native/berth-launcher ] && [ -d agent/"$T"/lib ] && [ -d bench/"$T"/lib ]
}
if [ "${BENCH_BUILD:-0}" = 1 ] || ! built; then
  # The whole reactor (the CLI included); without the CLI if that does not build.
  mvn -q -DskipTests -Dberth.target="$T" package \
    || mvn -q -DskipTests -Dberth.target="$T" -pl agent,bench -am package
fi
agent_jar=$(ls agent/"$T"/berth-agent-*.jar | head -n 1)
bench_jar=$(ls bench/"$T"/berth-bench-*.jar | head -n 1)
launcher=$PWD/agent/$T/native/berth-launcher

# --- private temp dir, kernel prefix, cleanup (the trap below is set before anything else)
tmp=$(mktemp -d /tmp/bbXXXX)
prefix="bench-${tmp#/tmp/bb}"
agent_pid=""
java_pid=""
harness_pid=""

cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$harness_pid" ] && kill "$harness_pid" 2>/dev/null && wait "$harness_pid" 2>/dev/null
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid"
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$agent_pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -9 "$agent_pid" 2>/dev/null
    wait "$agent_pid" 2>/dev/null
  fi
  # Under AGENT_WRAPPER the JVM is the wrapper's child and may outlive it.
  if [ -n "$java_pid" ] && [ "$java_pid" != "$agent_pid" ] && kill -0 "$java_pid" 2>/dev/null; then
    kill -9 "$java_pid" 2>/dev/null
  fi
  # OCI runtimes' leftovers (a run that did not exit normally).
  for rt in crun runc; do
    if [ -d "$tmp/oci/$rt" ]; then
      for id in $(ls "$tmp/oci/$rt" 2>/dev/null); do
        "$rt" --root "$tmp/oci/$rt" delete -f "$id" >/dev/null 2>&1
      done
    fi
  done
  # Whatever still runs in our cgroups: shims, containers.
  for _ in 1 2 3; do
    for procs in $(find /sys/fs/cgroup/*/"$prefix" -name cgroup.procs 2>/dev/null); do
      for pid in $(cat "$procs" 2>/dev/null); do
        kill -9 "$pid" 2>/dev/null
      done
    done
    sleep 0.1
  done
  # Mounts below the temp dir (rootfs overlays, bind mounts), deepest first.
  awk -v d="$tmp/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m"
  done
  # Cgroup directories, deepest first.
  for top in /sys/fs/cgroup/*/"$prefix"; do
    [ -d "$top" ] || continue
    find "$top" -depth -type d | while read -r d; do
      rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; }
    done
  done
  if awk -v d="$tmp/" 'index($5, d) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    echo "startup.sh: mounts remain below $tmp; not deleting it" >&2
  else
    rm -rf "$tmp"
  fi
  left=$(ls -d /sys/fs/cgroup/*/"$prefix" 2>/dev/null)
  [ -z "$left" ] || echo "startup.sh: cgroups remain: $left" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- the CLI: its launcher script on a private copy of its jars with the class-data archive
# that scripts/install.sh makes (the build tree itself is left as it is); else its jars on a
# plain class path.
cli=""
cli_note="The CLI was not built: its variants were not measured."
if [ -x ctl/"$T"/bin/berth ] && ls ctl/"$T"/lib/berth-ctl-*.jar >/dev/null 2>&1; then
  mkdir -p "$tmp/ctl-lib"
  cp ctl/"$T"/lib/*.jar "$tmp/ctl-lib/"
  BERTH_CTL_LIB=$tmp/ctl-lib
  export BERTH_CTL_LIB
  cli="$PWD/ctl/$T/bin/berth"
  if sh ctl/"$T"/bin/make-cds-archive "$tmp/ctl-lib" >/dev/null 2>&1; then
    cli_note="The CLI ran as installed: ctl/$T/bin/berth with a CDS archive from make-cds-archive."
  else
    cli_note="The CLI ran through ctl/$T/bin/berth without a CDS archive (make-cds-archive failed)."
  fi
elif ls ctl/"$T"/lib/berth-ctl-*.jar >/dev/null 2>&1; then
  cli="java -cp $PWD/ctl/$T/lib/* dev.berth.ctl.Main"
  cli_note="ctl/$T/bin/berth did not exist: the CLI ran as \`java -cp 'ctl/$T/lib/*' dev.berth.ctl.Main\` (none of its launcher's JVM flags, no CDS archive)."
fi

# --- the image: a busybox rootfs, as a tarball (for berthd) and as an OCI bundle (crun, runc)
sh scripts/busybox-rootfs.sh "$tmp/busybox.tar"
mkdir -p "$tmp/bundle/rootfs" "$tmp/oci/crun" "$tmp/oci/runc"
tar -C "$tmp/bundle/rootfs" -xf "$tmp/busybox.tar"
(cd "$tmp/bundle" && runc spec)
# Not a terminal, /bin/true, and a cgroup below our prefix so that cleanup finds it.
sed -i \
  -e 's/"terminal": true/"terminal": false/' \
  -e 's/^\([[:space:]]*\)"sh"$/\1"\/bin\/true"/' \
  -e "s|^\\([[:space:]]*\\)\"linux\": {|\\1\"linux\": {\\n\\1\\1\"cgroupsPath\": \"/$prefix/oci\",|" \
  "$tmp/bundle/config.json"
grep -q '"terminal": false' "$tmp/bundle/config.json" && grep -q '"/bin/true"' "$tmp/bundle/config.json" \
  && grep -q "\"cgroupsPath\": \"/$prefix/oci\"" "$tmp/bundle/config.json" \
  || { echo "startup.sh: unexpected output of runc spec" >&2; exit 1; }

# --- podman: a configuration and a store of our own, never the host's
. bench/podman.sh
podman_conf "$tmp/podman" vfs

# --- a private berthd, flags as scripts/install.sh starts it; without a default bridge, so that
# containers get a network namespace with loopback only, as crun's and runc's default spec gives them
mkdir -p "$tmp/data"
# shellcheck disable=SC2086
# Atomix (the cluster layer) needs two --add-opens; JDK 24+ also the flags JDK 17 refuses.
major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
atomix="--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"
[ "${major%%.*}" -ge 24 ] 2>/dev/null && atomix="$atomix --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
${AGENT_WRAPPER:-} java ${AGENT_JAVA_OPTS:--XX:+UseSerialGC -Xss512k} $atomix -cp "${AGENT_CP_PREFIX:+$AGENT_CP_PREFIX:}agent/$T/lib/*:$agent_jar" \
  dev.berth.agent.AgentMain --data-dir "$tmp/data" --socket "$tmp/berthd.sock" --prefix "$prefix" \
  --launcher "$launcher" --bridge none >"$tmp/berthd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do
  [ -S "$tmp/berthd.sock" ] && break
  kill -0 "$agent_pid" 2>/dev/null || { cat "$tmp/berthd.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$tmp/berthd.sock" ] || { echo "startup.sh: berthd did not start" >&2; cat "$tmp/berthd.log" >&2; exit 1; }
# The JVM's pid, for its CPU time (a wrapper's child when there is one).
java_pid=$agent_pid
if [ -n "${AGENT_WRAPPER:-}" ]; then
  java_pid=$(pgrep -P "$agent_pid" | head -n 1)
fi
note="$cli_note"
[ -n "${AGENT_WRAPPER:-}" ] && note="$note berthd ran under AGENT_WRAPPER=$AGENT_WRAPPER."
[ -n "${AGENT_CP_PREFIX:-}" ] && note="$note berthd ran with AGENT_CP_PREFIX=$AGENT_CP_PREFIX (patched classes)."

# --- the harness, in a private mount namespace where crun accepts the hybrid cgroup layout
# (it refuses it while /sys/fs/cgroup/unified/cgroup.controllers is visible), and where /run
# is a tmpfs of its own: rootful podman 4 creates /run/containers/networks whatever its
# configuration says, and nothing of the host's /run may change. berthd stays outside; the
# harness only talks to its socket (in $tmp), crun and runc keep their state in $tmp/oci.
set -- -XX:+UseSerialGC -cp "bench/$T/lib/*:$bench_jar" dev.berth.bench.StartLatency \
  --socket "$tmp/berthd.sock" --import "$tmp/busybox.tar" --image-ref busybox:latest --image busybox \
  --bundle "$tmp/bundle" --oci-root "$tmp/oci" --agent-pid "$java_pid" \
  --podman podman --podman-conf "$tmp/podman/containers.conf" --podman-storage-conf "$tmp/podman/storage.conf" \
  --warmup "$WARMUP" --rounds "$ROUNDS" --ps-runs "$PS_RUNS" --out "$OUT" --note "$note"
[ -n "$cli" ] && set -- "$@" --berth "$cli"
[ -n "${VARIANTS:-}" ] && set -- "$@" --variants "$VARIANTS"
[ -f bench/startup-findings.md ] && set -- "$@" --findings bench/startup-findings.md
unshare -m sh -c '
  if [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers || exit 1
  fi
  mount -t tmpfs -o mode=0755,size=16m bench-run /run || exit 1
  exec java "$@"' harness "$@" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""
