#!/bin/sh
# Failover benchmark: the time from kill -9 of an agent until every replica of a service that
# ran on it runs on another host, as JobService.Status reports it; and from kill -9 of a
# container's main process until its host runs it again. Four phases:
#   member: 3 Raft servers and 3 plain members (the shape the 5 s target is set for); the
#           victim is the member holding the most replicas (p50/p99 over MEMBER_TRIALS kills);
#           when no member holds one any more, the job is purged and submitted again first;
#   host:   the same, but the whole host dies at once (deploy/cluster.sh crash: the agent and
#           every process of its containers and launchers, as a power loss) (HOST_TRIALS);
#   leader: 3 Raft servers and 2 plain members; the victim is the Raft leader, so the time
#           includes an election (LEADER_TRIALS kills);
#   container: 1 server and 2 members, every agent healthy; each trial kills -9 the main process
#           of another replica's container, which its node restarts in place (CONTAINER_TRIALS,
#           on a service of that many replicas at least).
# Between kills the victim is started again (deploy/cluster.sh start) and the harness waits until
# it is ready and the job is back to steady state. Writes bench/results/failover.md.
#
# Run as root from anywhere in the repository. Not a test: the test suite never runs it.
#
# Environment: MEMBER_TRIALS (20), HOST_TRIALS (20), LEADER_TRIALS (8), CONTAINER_TRIALS (20),
# REPLICAS (12, spread), PHASES ("member,host,leader,container"), POLL_MS (50), BERTH_TARGET (the build directory, "target"), BENCH_BUILD=1
# (build even when the jars exist), OUT (bench/results/failover.md), KEEP_LOGS (a directory: the
# agents' logs of each phase are copied there before its cluster goes; they are kept anyway, in
# /tmp/berth-failover-ID-logs, when a phase fails).
#
# Every cluster is brought up by deploy/cluster.sh (each agent in a network namespace of its own)
# and taken down by it on exit, failure and Ctrl-C included. Liveness at the agents' defaults:
# suspect after 1 s without a heartbeat, down after the 2 s grace period.
set -eu
cd "$(dirname "$0")/.."
T=${BERTH_TARGET:-target}
MEMBER_TRIALS=${MEMBER_TRIALS:-20}
LEADER_TRIALS=${LEADER_TRIALS:-8}
HOST_TRIALS=${HOST_TRIALS:-20}
CONTAINER_TRIALS=${CONTAINER_TRIALS:-20}
REPLICAS=${REPLICAS:-12}
PHASES=${PHASES:-member,host,leader,container}
POLL_MS=${POLL_MS:-50}
OUT=${OUT:-bench/results/failover.md}
export BERTH_TARGET="$T"
export BERTH_CLUSTER_ROOT=${BERTH_CLUSTER_ROOT:-/tmp/berth-cluster}
# The agents log to the millisecond, so that the harness can tell from the servers' logs when
# each step of a failover happened (FailoverBench's "where the time goes").
export BERTH_JVM_FLAGS="-Djava.util.logging.SimpleFormatter.format=%1\$tFT%1\$tT.%1\$tL|%4\$s|%5\$s%6\$s%n"
script=$PWD/deploy/cluster.sh

if [ "$(id -u)" != 0 ]; then
  echo "failover.sh: run as root (network namespaces, cgroups and mounts need it)" >&2
  exit 1
fi
[ -x /bin/busybox ] || { echo "failover.sh: needs /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

built() {
  ls agent/"$T"/berth-agent-*.jar bench/"$T"/berth-bench-*.jar >/dev/null 2>&1 \
    && [ -x agent/"$T"/native/berth-launcher ] && [ -d agent/"$T"/lib ] && [ -d bench/"$T"/lib ]
}
if [ "${BENCH_BUILD:-0}" = 1 ] || ! built; then
  mvn -q -DskipTests -Dberth.target="$T" -pl agent,bench -am package
fi
bench_jar=$(ls "$PWD"/bench/"$T"/berth-bench-*.jar | head -n 1)

tmp=$(mktemp -d /tmp/bfXXXX)
current=""
cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  [ -n "$current" ] && [ -d "$BERTH_CLUSTER_ROOT/$current" ] && sh "$script" down "$current" >&2
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sh scripts/busybox-rootfs.sh "$tmp/busybox.tar"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The tree measured: others may be changing it; say so when it differs from its commit.
build="commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
changed=$(git status --porcelain 2>/dev/null | grep -c . || true)
[ "$changed" = 0 ] || build="$build with $changed files changed or added, not committed"
started=$(date -u +%Y-%m-%dT%H:%M:%S)
tag=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
rc=0
notes=""

# Runs one phase: $1 victim kind, $2 hosts, $3 servers, $4 trials, $5 title, $6 replicas ($REPLICAS).
phase() {
  n_replicas=${6:-$REPLICAS}
  current="bf$tag$1"
  current=$(echo "$current" | cut -c1-8)
  t0=$(date +%s%3N)
  sh "$script" up --id "$current" -n "$2" -s "$3" --timeout 300 >/dev/null
  notes="$notes
- $5: \`deploy/cluster.sh up -n $2 -s $3\` ready in $(( $(date +%s%3N) - t0 )) ms."
  servers=$(seq 1 "$3" | sed 's/^/n/' | paste -sd, -)
  members=$(seq $(($3 + 1)) "$2" | sed 's/^/n/' | paste -sd, -)
  java -XX:+UseSerialGC -cp "$PWD/bench/$T/lib/*:$bench_jar" dev.berth.bench.FailoverBench \
    --root "$BERTH_CLUSTER_ROOT" --id "$current" --script "$script" --servers "$servers" --members "$members" \
    --victim "$1" --trials "$4" --replicas "$n_replicas" --poll-ms "$POLL_MS" --import "$tmp/busybox.tar" \
    --title "$5" --out "$tmp/$1.md" || {
    rc=1
    # The agents' own word on what went wrong outlives the cluster.
    logs=/tmp/berth-failover-$current-logs
    mkdir -p "$logs"
    for h in "$BERTH_CLUSTER_ROOT/$current"/n*; do cp "$h/berthd.log" "$logs/$(basename "$h").log" 2>/dev/null || true; done
    echo "failover.sh: the $1 phase failed; the agents' logs are in $logs" >&2
  }
  if [ -n "${KEEP_LOGS:-}" ]; then
    mkdir -p "$KEEP_LOGS/$1"
    for h in "$BERTH_CLUSTER_ROOT/$current"/n*; do cp "$h/berthd.log" "$KEEP_LOGS/$1/$(basename "$h").log" 2>/dev/null || true; done
  fi
  sh "$script" down "$current" >/dev/null
  current=""
}

case ",$PHASES," in *,member,*)
  phase member 6 3 "$MEMBER_TRIALS" "Death of a plain member (3 servers, 3 members, $REPLICAS replicas)" ;;
esac
case ",$PHASES," in *,host,*)
  phase host 6 3 "$HOST_TRIALS" "Power loss of a plain member's host: agent and containers (3 servers, 3 members, $REPLICAS replicas)" ;;
esac
case ",$PHASES," in *,leader,*)
  phase leader 5 3 "$LEADER_TRIALS" "Death of the Raft leader (3 servers, 2 members, $REPLICAS replicas)" ;;
esac
case ",$PHASES," in *,container,*)
  c_replicas=$(( CONTAINER_TRIALS > REPLICAS ? CONTAINER_TRIALS : REPLICAS ))
  phase container 3 1 "$CONTAINER_TRIALS" "Crash of a container on a healthy host (1 server, 2 members, $c_replicas replicas)" "$c_replicas"
esac

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# Failover: kill -9 of an agent, a host or a container until its replicas run again"
  echo
  echo "Generated by \`bench/failover.sh\` (harness \`bench/src/main/java/dev/berth/bench/FailoverBench.java\`)."
  echo
  echo "| fact | value |"
  echo "|---|---|"
  echo "| date (UTC) | $started |"
  echo "| nproc | $(nproc) |"
  echo "| CPU | $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1) |"
  echo "| kernel | $(uname -r) |"
  echo "| JDK | $(java -version 2>&1 | sed -n 2p) |"
  echo "| build | $build |"
  echo "| job | a service of $REPLICAS busybox \`sleep 3600\` replicas (the container phase: one per trial at least), cpu 10m, memory 8m, strategy spread |"
  echo "| liveness | the agents' defaults: a heartbeat every 250 ms to every server, suspect after 1 s, down after the 2 s grace period |"
  echo "| restarts | a service's container is restarted in place at the agents' default backoff: 100 ms, doubled per restart within 10 s of the last |"
  echo "| load average (1, 5, 15 min) | before $load_before; after $load_after |"
  echo
  echo "Clusters:$notes"
  echo
  for k in member host leader container; do
    [ -f "$tmp/$k.md" ] && { cat "$tmp/$k.md"; echo; }
  done
} >"$OUT"
echo "wrote $OUT" >&2
exit "$rc"
