#!/bin/sh
# A local N-host Berth cluster on one machine: each agent in a network namespace of its own,
# all joined to one bridge that lives in a "fabric" namespace, so the host's own network is
# never touched. See deploy/README.md. Run as root.
set -eu

ROOT=${BERTH_CLUSTER_ROOT:-/tmp/berth-cluster}
PORT=7946
# The agents' API on TCP (--tls only): where the others forward requests about their containers.
API_PORT=2377
me=cluster.sh

usage() {
  cat <<'EOF'
usage: deploy/cluster.sh COMMAND [ARGS]

  up [-n HOSTS] [-s SERVERS] [--id ID] [--subnet A.B.C] [--grace-period DUR] [--tls]
     [--berthd CMD] [--no-wait] [--timeout SECONDS] [-- BERTHD-FLAGS...]
                      start a cluster of HOSTS agents (default 3), the first SERVERS of them
                      Raft servers (1, 3 or 5; default: 3, or 1 for a single host); prints its ID
                      and how to reach each agent. Waits until every agent's cluster is ready.
                      The agents' messaging is plaintext on the private bridge (--tls-plaintext)
                      unless --tls: a cluster CA and a certificate per host, made by berth cert,
                      and each agent also serves its API on ADDRESS:2377 over mutual TLS, so that
                      any agent answers for every host's containers (logs, exec, stop, rm...).
                      Without --tls an agent answers for its own containers only: berthd serves
                      plaintext TCP on loopback alone, which the other hosts cannot reach.
                      The servers get the cluster's seal key (made with openssl), which keeps
                      registry credentials sealed; a plain member fetches the credential of its
                      allocation from a server's API, so only with --tls.
  add ID [--server-less] [--timeout SECONDS]
                      add a host n(N+1) whose agent joins the running cluster as a plain member,
                      with the flags up gave the members (grace period, TLS with a certificate of
                      its own and the API on ADDRESS:2377, the flags after --); waits until its
                      cluster is ready and prints its name and address. It joins through the
                      servers, or with --server-less through the running plain members alone (it
                      learns of the servers from them).
  down ID             stop everything of cluster ID and remove it: processes, containers,
                      mounts, cgroups, namespaces (with their veths and bridge), files
  ls                  the clusters on this machine
  status ID           hosts of cluster ID: address, role, pid, socket, running or not
  kill ID HOST        kill -9 the agent of HOST (its containers keep running)
  crash ID HOST       kill -9 the whole of HOST at once, as a power loss would: its agent, every
                      process of its containers and their launchers (the agent's cgroups, named by
                      its prefix) and whatever else runs in its namespace; their mounts and cgroups
                      stay, for the next start of the agent (or down) to clean
  start ID HOST [--fresh]
                      start HOST's agent again; --fresh first empties its data dir (a new agent
                      under the same name and address, e.g. to replace a dead server)
  cut ID HOST         take HOST's link to the fabric down (a network partition)
  heal ID HOST        bring it back up
  host ID NAME        add a host NAME without an agent (e.g. a benchmark client); prints its address
  exec ID HOST CMD... run CMD in HOST's network namespace
  wait ID [SECONDS]   wait until every running agent's cluster is ready (default 120 s)

Hosts are named n1..nN; n1..nSERVERS are the servers. The agents' sockets are
$BERTH_CLUSTER_ROOT/ID/nK/berthd.sock (BERTH_CLUSTER_ROOT defaults to /tmp/berth-cluster).

berthd: --berthd CMD, else $BERTHD, else this repository's build (agent/${BERTH_TARGET:-target},
after mvn -DskipTests package), else berthd on the PATH. CMD is split on spaces; no quotes.
$BERTH_JVM_FLAGS (split on spaces) is added to the JVM flags of this repository's build.
berth (for --tls): $BERTH, else this repository's build (ctl/${BERTH_TARGET:-target}), else the PATH.
EOF
}

die() {
  echo "$me: $*" >&2
  exit 1
}

need_root() {
  [ "$(id -u)" = 0 ] || die "run as root (network namespaces, cgroups and mounts need it)"
  for c in ip nsenter awk; do
    command -v "$c" >/dev/null 2>&1 || die "$c is needed (iproute2, util-linux, awk)"
  done
}

check_id() {
  case "$1" in
    ''|*[!a-z0-9]*) die "invalid cluster ID \"$1\": 1 to 8 lower-case letters and digits" ;;
  esac
  [ "${#1}" -le 8 ] || die "invalid cluster ID \"$1\": at most 8 characters (it goes into interface names)"
}

dir_of() {
  check_id "$1"
  d="$ROOT/$1"
  [ -d "$d" ] || die "no cluster $1 (no $d); see: $me ls"
  echo "$d"
}

check_host() {
  [ -f "$1/$2/addr" ] || die "cluster $(basename "$1") has no host \"$2\"; see: $me status $(basename "$1")"
}

# The berthd command: --berthd, $BERTHD, berthd on the PATH, or this repository's build.
berthd_cmd() {
  if [ -n "${1:-}" ]; then
    echo "$1"
  elif [ -n "${BERTHD:-}" ]; then
    echo "$BERTHD"
  else
    repo=$(cd "$(dirname "$0")/.." && pwd)
    t=${BERTH_TARGET:-target}
    jar=$(ls "$repo"/agent/"$t"/berth-agent-*.jar 2>/dev/null | head -n 1)
    if [ -z "$jar" ] || [ ! -d "$repo/agent/$t/lib" ] || [ ! -x "$repo/agent/$t/native/berth-launcher" ]; then
      command -v berthd >/dev/null 2>&1 && { command -v berthd; return; }
      die "no berthd: build this repository (mvn -DskipTests package), give --berthd CMD or \$BERTHD, or install it (scripts/install.sh)"
    fi
    major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    flags="--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"
    [ "${major%%.*}" -ge 24 ] 2>/dev/null && flags="$flags --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
    [ -n "${BERTH_JVM_FLAGS:-}" ] && flags="$flags $BERTH_JVM_FLAGS"
    echo "java -XX:+UseSerialGC -Xss512k $flags -cp $repo/agent/$t/lib/*:$jar dev.berth.agent.AgentMain --launcher $repo/agent/$t/native/berth-launcher"
  fi
}

# The berth CLI, for berth cert: $BERTH, this repository's build, or berth on the PATH.
berth_cmd() {
  if [ -n "${BERTH:-}" ]; then
    echo "$BERTH"
    return
  fi
  repo=$(cd "$(dirname "$0")/.." && pwd)
  t=${BERTH_TARGET:-target}
  if [ -f "$repo/ctl/$t/bin/berth" ]; then
    echo "sh $repo/ctl/$t/bin/berth"
  elif command -v berth >/dev/null 2>&1; then
    command -v berth
  else
    die "--tls needs the berth CLI (berth cert): build this repository, give \$BERTH, or install it"
  fi
}

# Whether pid $1 is alive and is the agent of host dir $2 (not a recycled pid).
is_agent() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "--socket $2/berthd.sock"
}

# Starts the agent of host dir $1 (files written by up: addr, args, ns, prefix).
start_agent() {
  h=$1
  ns=$(cat "$h/ns")
  pid=$(cat "$h/pid" 2>/dev/null || true)
  if is_agent "$pid" "$h"; then
    die "$(basename "$h") already runs (pid $pid)"
  fi
  mkdir -p "$h/data"
  rm -f "$h/berthd.sock"
  set -f  # the command is split on spaces, never globbed (a class path has '*')
  # shellcheck disable=SC2046
  nsenter --net="/run/netns/$ns" -- $(cat "$(dirname "$h")/berthd.cmd") \
    --data-dir "$h/data" --socket "$h/berthd.sock" --prefix "$(cat "$h/prefix")" $(cat "$h/args") \
    </dev/null >>"$h/berthd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$h/pid"
  set +f
  # Until the background shell has become the agent (nsenter execs it), so that is_agent holds.
  for _ in $(seq 1 200); do
    is_agent "$pid" "$h" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  is_agent "$pid" "$h" || { tail -n 20 "$h/berthd.log" >&2 2>/dev/null; die "the agent of $(basename "$h") did not start; log: $h/berthd.log"; }
}

# Waits up to $1 seconds for the agents of host dirs $2... that run to say their cluster is ready.
wait_ready() {
  timeout=$1
  deadline=$(( $(date +%s) + timeout ))
  shift
  for h in "$@"; do
    [ -f "$h/pid" ] || continue
    pid=$(cat "$h/pid")
    while ! grep -q "ready as" "$h/berthd.log" 2>/dev/null || [ "$(grep -c "ready as" "$h/berthd.log")" -lt "$(cat "$h/starts")" ]; do
      is_agent "$pid" "$h" || { grep -v "^   " "$h/berthd.log" | tail -n 20 >&2; die "the agent of $(basename "$h") exited; log: $h/berthd.log"; }
      if [ "$(date +%s)" -ge "$deadline" ]; then
        # Every agent's last words, before up's failure removes the cluster and its logs.
        for l in "$(dirname "$h")"/n*/berthd.log; do
          echo "--- $l (tail)" >&2
          grep -v "^   " "$l" 2>/dev/null | tail -n 40 >&2
        done
        die "the cluster of $(basename "$h") was not ready within $timeout s; log: $h/berthd.log"
      fi
      sleep 0.2
    done
  done
}

cmd_up() {
  n=3
  servers=""
  id=""
  subnet="10.213.0"
  grace=""
  tls=0
  berthd=""
  wait=1
  timeout=120
  while [ $# -gt 0 ]; do
    case "$1" in
      -n) n=${2:?-n needs a number}; shift 2 ;;
      -s) servers=${2:?-s needs a number}; shift 2 ;;
      --id) id=${2:?--id needs a value}; shift 2 ;;
      --subnet) subnet=${2:?--subnet needs A.B.C}; shift 2 ;;
      --grace-period) grace=${2:?--grace-period needs a duration}; shift 2 ;;
      --tls) tls=1; shift ;;
      --berthd) berthd=${2:?--berthd needs a command}; shift 2 ;;
      --no-wait) wait=0; shift ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      --) shift; break ;;
      *) usage >&2; die "up: unknown option \"$1\"" ;;
    esac
  done
  case "$n" in ''|*[!0-9]*) die "-n: \"$n\" is not a number" ;; esac
  [ "$n" -ge 1 ] && [ "$n" -le 99 ] || die "-n: between 1 and 99 hosts"
  [ -n "$servers" ] || { [ "$n" -ge 3 ] && servers=3 || servers=1; }
  case "$servers" in 1|3|5) ;; *) die "-s: a Raft group has 1, 3 or 5 servers, not \"$servers\"" ;; esac
  [ "$servers" -le "$n" ] || die "-s $servers: more servers than hosts ($n)"
  echo "$subnet" | grep -Eq '^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$' || die "--subnet: expected the first three octets, e.g. 10.213.0"
  [ -n "$id" ] || id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
  check_id "$id"
  need_root
  d="$ROOT/$id"
  [ ! -e "$d" ] || die "cluster $id exists already ($d); take it down first: $me down $id"
  ip netns list | grep -q "^bc-$id-" && die "namespaces bc-$id-* exist already; remove them: $me down $id"
  cmd=$(berthd_cmd "$berthd")
  [ "$tls" = 0 ] || berth=$(berth_cmd)
  mkdir -p "$d"
  # From here on a failure takes down what was made.
  trap 'rc=$?; if [ $rc != 0 ]; then echo "$me: up failed; removing cluster $id" >&2; cmd_down "$id" >&2 || true; fi' EXIT
  echo "$cmd" >"$d/berthd.cmd"
  echo "$subnet" >"$d/subnet"
  fab="bc-$id-fab"
  echo "$fab" >"$d/fabric"
  ip netns add "$fab"
  ip -n "$fab" link set lo up
  ip -n "$fab" link add br0 type bridge
  ip -n "$fab" link set br0 up
  [ "$tls" = 0 ] || $berth cert ca --out "$d/ca" --name "berth-cluster-$id" >/dev/null
  # The servers' seal key (registry credentials are kept sealed to it): given to the servers only,
  # never to a plain member; root only, in a root-only directory.
  command -v openssl >/dev/null || die "up needs openssl to make the servers' seal key"
  mkdir -m 700 "$d/seal"
  (umask 077; openssl genpkey -algorithm X25519 -out "$d/seal/seal-key.pem" 2>/dev/null) \
    || die "openssl could not make the seal key $d/seal/seal-key.pem"
  # What every agent gets, kept for add: the grace period and the flags after --.
  echo "$grace" >"$d/grace"
  echo "$*" >"$d/flags"
  names=""
  join=""
  i=1
  while [ "$i" -le "$n" ]; do
    [ "$i" -le "$servers" ] && { names="$names${names:+,}n$i"; [ "$servers" -gt 1 ] && join="$join${join:+,}$subnet.$i:$PORT"; }
    i=$((i + 1))
  done
  [ "$servers" = 1 ] && join="$subnet.1:$PORT"
  i=1
  while [ "$i" -le "$n" ]; do
    add_host "$d" "n$i" "$subnet.$i"
    h="$d/n$i"
    if [ "$i" -le "$servers" ]; then
      echo server >"$h/role"
      others=$(echo "$join" | tr ',' '\n' | grep -v "^$subnet.$i:" | paste -sd, -)
      agent_args "$d" "n$i" --seal-key "$d/seal/seal-key.pem" ${others:+--server --servers $names --join $others}
    else
      echo member >"$h/role"
      agent_args "$d" "n$i" --join "$join"
    fi
    i=$((i + 1))
  done
  for h in "$d"/n*; do
    echo $(( $(cat "$h/starts") + 1 )) >"$h/starts"
    start_agent "$h"
  done
  [ "$wait" = 1 ] && wait_ready "$timeout" "$d"/n*
  trap - EXIT
  echo "cluster $id: $n hosts, servers $names, fabric namespace $fab ($subnet.0/24)"
  cmd_status "$id"
}

# Adds a namespace bc-ID-NAME with eth0 at ADDR/24 on the fabric's bridge.
add_host() {
  d=$1 name=$2 addr=$3
  id=$(basename "$d")
  ns="bc-$id-$name"
  fab=$(cat "$d/fabric")
  h="$d/$name"
  mkdir -p "$h"
  echo "$ns" >"$h/ns"
  echo "$addr" >"$h/addr"
  echo "bc${id}$name" >"$h/prefix"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$fab" link add "$name" type veth peer name eth0 netns "$ns"
  ip -n "$fab" link set "$name" master br0 up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
}

# Writes the agent's args of host $2 of cluster dir $1 (made by add_host): the flags every agent of
# the cluster gets, then $3... (its role's: --server ... or --join ...), then the flags after up's --.
# With TLS (the cluster has a CA) it first makes the host's certificate.
agent_args() {
  d=$1 name=$2
  shift 2
  h="$d/$name"
  addr=$(cat "$h/addr")
  args="--cluster c$(basename "$d") --node $name --advertise $addr:$PORT"
  grace=$(cat "$d/grace" 2>/dev/null || true)
  [ -n "$grace" ] && args="$args --grace-period $grace"
  if [ -f "$d/ca/ca.pem" ]; then
    berth=$(berth_cmd)
    $berth cert node "$name" --ip "$addr" --ca "$d/ca" --out "$h/tls" >/dev/null
    args="$args --tls-ca $h/tls/ca.pem --tls-cert $h/tls/cert.pem --tls-key $h/tls/key.pem"
    # Registered in the cluster: the other agents forward requests about this host's containers there.
    args="$args --tcp $addr:$API_PORT"
  else
    # The bridge is private to this machine's namespaces: a network the script trusts.
    args="$args --tls-plaintext"
  fi
  [ $# -gt 0 ] && args="$args $*"
  flags=$(cat "$d/flags" 2>/dev/null || true)
  [ -n "$flags" ] && args="$args $flags"
  echo "$args" >"$h/args"
  echo 0 >"$h/starts"
}

cmd_add() {
  [ $# -ge 1 ] || die "usage: $me add ID [--server-less] [--timeout SECONDS]"
  need_root
  d=$(dir_of "$1")
  shift
  serverless=0
  timeout=120
  while [ $# -gt 0 ]; do
    case "$1" in
      --server-less) serverless=1; shift ;;
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "add: unknown option \"$1\"" ;;
    esac
  done
  [ -f "$d/berthd.cmd" ] || die "cluster $(basename "$d") has no agents' command; bring it up with $me up"
  subnet=$(cat "$d/subnet")
  if [ "$serverless" = 1 ]; then
    join=""
    for m in "$d"/n*/; do
      m=${m%/}
      [ "$(cat "$m/role" 2>/dev/null)" = member ] && is_agent "$(cat "$m/pid" 2>/dev/null)" "$m" \
        && join="$join${join:+,}$(cat "$m/addr"):$PORT"
    done
    [ -n "$join" ] || die "add --server-less: no plain member of cluster $(basename "$d") runs to join through"
  else
    # As up joins its members: through every server.
    join=$(for s in "$d"/n*/; do [ "$(cat "$s/role")" = server ] && echo "$(cat "$s/addr"):$PORT"; done | paste -sd, -)
  fi
  # The next free nK; mkdir claims it, so two adds at once never pick the same one.
  k=$(ls -d "$d"/n* 2>/dev/null | sed 's|.*/n||' | sort -n | tail -n 1)
  k=$(( ${k:-0} + 1 ))
  while ! mkdir "$d/n$k" 2>/dev/null; do k=$((k + 1)); done
  [ "$k" -le 99 ] || { rmdir "$d/n$k"; die "add: at most 99 agents (n100 and up would take the clients' addresses)"; }
  name="n$k"
  h="$d/$name"
  # A failure removes the host again; its log stays in the cluster's directory until down.
  trap 'rc=$?; if [ $rc != 0 ]; then cp "$h/berthd.log" "$d/add-$name.log" 2>/dev/null; echo "$me: add failed; removing $name (its log: $d/add-$name.log)" >&2; remove_host "$d" "$name" >&2 || true; fi' EXIT
  add_host "$d" "$name" "$subnet.$k"
  echo member >"$h/role"
  agent_args "$d" "$name" --join "$join"
  echo 1 >"$h/starts"
  start_agent "$h"
  wait_ready "$timeout" "$h"
  trap - EXIT
  echo "$name $subnet.$k:$PORT"
}

# Removes host $2 of cluster dir $1 alone: its agent and what it started, its mounts, cgroups,
# namespace (with its veth) and directory. For a failed add; down removes the whole cluster.
remove_host() {
  d=$1 name=$2
  h="$d/$name"
  set +e
  pid=$(cat "$h/pid" 2>/dev/null)
  if is_agent "$pid" "$h"; then
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  ns=$(cat "$h/ns" 2>/dev/null)
  pre=$(cat "$h/prefix" 2>/dev/null)
  for _ in 1 2 3; do
    [ -n "$ns" ] && for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    [ -n "$pre" ] && kill_cgroups "$pre"
    sleep 0.1
  done
  unmount_below "$h/"
  [ -n "$pre" ] && remove_cgroups "$pre"
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  ip -n "$(cat "$d/fabric")" link del "$name" 2>/dev/null
  rm -rf "$h"
  set -e
}

cmd_host() {
  [ $# = 2 ] || die "usage: $me host ID NAME"
  need_root
  d=$(dir_of "$1")
  case "$2" in ''|*[!a-z0-9]*|n[0-9]*) die "invalid host name \"$2\": lower-case letters and digits, not nK (the agents' names)" ;; esac
  [ "${#2}" -le 6 ] || die "invalid host name \"$2\": at most 6 characters"
  [ ! -e "$d/$2" ] || die "host $2 exists already in cluster $1"
  k=100
  while grep -qx "$(cat "$d/subnet").$k" "$d"/*/addr 2>/dev/null; do k=$((k + 1)); done
  [ "$k" -le 254 ] || die "no address left"
  add_host "$d" "$2" "$(cat "$d/subnet").$k"
  echo client >"$d/$2/role"
  cat "$d/$2/addr"
}

cmd_status() {
  [ $# = 1 ] || die "usage: $me status ID"
  d=$(dir_of "$1")
  printf '%-6s %-7s %-16s %-8s %-8s %s\n' HOST ROLE ADDRESS PID STATE SOCKET
  for h in "$d"/*/; do
    h=${h%/}
    [ -f "$h/addr" ] || continue
    pid=$(cat "$h/pid" 2>/dev/null || echo -)
    state=-
    if [ -f "$h/args" ]; then
      is_agent "$pid" "$h" && state=running || state=stopped
    fi
    [ -f "$h/args" ] && sock="$h/berthd.sock" || sock=-
    if [ "$(ip -n "$(cat "$d/fabric")" -o link show "$(basename "$h")" 2>/dev/null | grep -c 'state DOWN')" != 0 ]; then
      state="$state,cut"
    fi
    printf '%-6s %-7s %-16s %-8s %-8s %s\n' "$(basename "$h")" "$(cat "$h/role")" "$(cat "$h/addr"):$PORT" "$pid" "$state" "$sock"
  done
  echo "e.g.: berth --host unix://$d/n1/berthd.sock nodes"
}

cmd_ls() {
  [ -d "$ROOT" ] || exit 0
  for d in "$ROOT"/*/; do
    [ -f "$d/fabric" ] || continue
    echo "$(basename "$d") $(ls -d "$d"/n* 2>/dev/null | wc -l) agents"
  done
}

cmd_kill() {
  [ $# = 2 ] || die "usage: $me kill ID HOST"
  need_root
  d=$(dir_of "$1")
  check_host "$d" "$2"
  h="$d/$2"
  pid=$(cat "$h/pid" 2>/dev/null || true)
  is_agent "$pid" "$h" || die "the agent of $2 does not run"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  echo "killed $2 (pid $pid)"
}

# The pids of host dir $1's processes: its agent, those in its agent's cgroups (containers and
# their launchers), those in its network namespace. Nothing of another host or cluster: the
# prefix and the namespace are this host's alone.
host_pids() {
  h=$1
  pid=$(cat "$h/pid" 2>/dev/null || true)
  is_agent "$pid" "$h" && echo "$pid"
  pre=$(cat "$h/prefix")
  cat $(find /sys/fs/cgroup/*/"$pre" /sys/fs/cgroup/"$pre" -name cgroup.procs 2>/dev/null) /dev/null 2>/dev/null
  ip netns pids "$(cat "$h/ns")" 2>/dev/null
  true
}

cmd_crash() {
  [ $# = 2 ] || die "usage: $me crash ID HOST"
  need_root
  d=$(dir_of "$1")
  check_host "$d" "$2"
  h="$d/$2"
  [ -f "$h/args" ] || die "$2 is a host without an agent"
  pid=$(cat "$h/pid" 2>/dev/null || true)
  is_agent "$pid" "$h" || die "the agent of $2 does not run"
  # One kill for all that runs, so none of them sees another die first (a launcher recording its
  # container's exit, the agent restarting it); later rounds catch what forked meanwhile.
  pids=$(host_pids "$h" | sort -un | paste -sd' ' -)
  first=$(echo "$pids" | wc -w)
  set +e
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
  rounds=1
  while :; do
    left=$(host_pids "$h" | sort -un | paste -sd' ' -)
    kill -0 "$pid" 2>/dev/null && left="$left $pid"
    [ -z "$(echo $left)" ] && break
    [ "$rounds" -lt 100 ] || { set -e; die "crash $2: processes still alive after 100 rounds of kill -9: $left"; }
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null
    rounds=$((rounds + 1))
    sleep 0.05
  done
  set -e
  echo "crashed $2: killed the agent (pid $pid) and $((first - 1)) other processes at once ($rounds rounds)"
}

cmd_start() {
  [ $# -ge 2 ] || die "usage: $me start ID HOST [--fresh]"
  need_root
  d=$(dir_of "$1")
  check_host "$d" "$2"
  h="$d/$2"
  [ -f "$h/args" ] || die "$2 is a host without an agent"
  if [ "${3:-}" = --fresh ]; then
    pid=$(cat "$h/pid" 2>/dev/null || true)
    is_agent "$pid" "$h" && die "$2 runs; kill it first: $me kill $1 $2"
    unmount_below "$h/data/"
    rm -rf "$h/data"
  elif [ -n "${3:-}" ]; then
    die "start: unknown option \"$3\""
  fi
  echo $(( $(cat "$h/starts") + 1 )) >"$h/starts"
  start_agent "$h"
  echo "started $2 (pid $(cat "$h/pid"))"
}

cmd_link() {
  [ $# = 3 ] || die "usage: $me $1 ID HOST"
  need_root
  d=$(dir_of "$2")
  check_host "$d" "$3"
  [ "$1" = cut ] && state=down || state=up
  ip -n "$(cat "$d/fabric")" link set "$3" "$state"
}

cmd_exec() {
  [ $# -ge 3 ] || die "usage: $me exec ID HOST CMD..."
  need_root
  d=$(dir_of "$1")
  check_host "$d" "$2"
  ns=$(cat "$d/$2/ns")
  shift 2
  exec nsenter --net="/run/netns/$ns" -- "$@"
}

cmd_wait() {
  [ $# -ge 1 ] || die "usage: $me wait ID [SECONDS]"
  d=$(dir_of "$1")
  wait_ready "${2:-120}" "$d"/n*
}

unmount_below() {
  awk -v d="$1" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m"
  done
}

# Kill -9 every process in the cgroup directories named $1 in every hierarchy.
kill_cgroups() {
  for procs in $(find /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1" -name cgroup.procs 2>/dev/null); do
    for pid in $(cat "$procs" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null || true
    done
  done
}

# Removes the (emptied) cgroup directories named $1 in every hierarchy, deepest first.
remove_cgroups() {
  for top in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
    [ -d "$top" ] || continue
    find "$top" -depth -type d | while read -r c; do
      rmdir "$c" 2>/dev/null || { sleep 0.2; rmdir "$c" 2>/dev/null; }
    done
  done
}

cmd_down() {
  [ $# = 1 ] || die "usage: $me down ID"
  check_id "$1"
  need_root
  id=$1
  d="$ROOT/$id"
  if [ ! -d "$d" ] && ! ip netns list | grep -q "^bc-$id-"; then
    die "no cluster $id (no $d and no namespaces bc-$id-*); see: $me ls"
  fi
  set +e
  prefixes=$(cat "$d"/*/prefix 2>/dev/null)
  # The agents first, so they make nothing new; then what they started (shims, containers).
  for h in "$d"/*/; do
    h=${h%/}
    pid=$(cat "$h/pid" 2>/dev/null)
    is_agent "$pid" "$h" && kill -9 "$pid"
  done
  for h in "$d"/*/; do
    h=${h%/}
    pid=$(cat "$h/pid" 2>/dev/null)
    while is_agent "$pid" "$h"; do sleep 0.05; done
  done
  for _ in 1 2 3; do
    for ns in $(ip netns list | awk -v p="bc-$id-" 'index($1, p) == 1 { print $1 }'); do
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    done
    for p in "$d"/*/prefix; do
      [ -f "$p" ] && kill_cgroups "$(cat "$p")"
    done
    sleep 0.1
  done
  [ -d "$d" ] && unmount_below "$d/"
  for p in "$d"/*/prefix; do
    [ -f "$p" ] || continue
    pre=$(cat "$p")
    remove_cgroups "$pre"
    # An agent in a namespace of its own keeps its nft table there; one in the host's would not.
    command -v nft >/dev/null 2>&1 && nft list table ip "$pre" >/dev/null 2>&1 && nft delete table ip "$pre"
  done
  # The namespaces take the veths, the bridge and the agents' nft tables with them.
  for ns in $(ip netns list | awk -v p="bc-$id-" 'index($1, p) == 1 { print $1 }'); do
    ip netns del "$ns"
  done
  left=""
  if [ -d "$d" ]; then
    if awk -v p="$d/" 'index($5, p) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
      left="$left mounts below $d;"
    else
      rm -rf "$d"
    fi
  fi
  for pre in $prefixes; do
    for p in $(ls -d /sys/fs/cgroup/*/"$pre" /sys/fs/cgroup/"$pre" 2>/dev/null); do left="$left cgroup $p;"; done
  done
  ip netns list | grep -q "^bc-$id-" && left="$left namespaces bc-$id-*;"
  rmdir "$ROOT" 2>/dev/null
  set -e
  [ -z "$left" ] || die "down $id: left behind:$left"
  echo "cluster $id is down"
}

[ $# -ge 1 ] || { usage >&2; exit 2; }
c=$1
shift
case "$c" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  ls) cmd_ls "$@" ;;
  status) cmd_status "$@" ;;
  kill) cmd_kill "$@" ;;
  crash) cmd_crash "$@" ;;
  start) cmd_start "$@" ;;
  cut|heal) cmd_link "$c" "$@" ;;
  add) cmd_add "$@" ;;
  host) cmd_host "$@" ;;
  exec) cmd_exec "$@" ;;
  wait) cmd_wait "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; die "unknown command \"$c\"" ;;
esac
