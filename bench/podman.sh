# Sourced by the benchmarks that run podman as a peer: podman_conf DIR DRIVER writes
# DIR/containers.conf and DIR/storage.conf, a configuration and a store of the benchmark's own
# under DIR, never the host's; kill_cgroups GLOB clears what a run that failed left in them.
# DRIVER: the storage driver, e.g. overlay (as Berth's rootfs) or vfs.
podman_conf() {
  mkdir -p "$1"
  cat > "$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000","nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$1/events.log"
tmp_dir = "$1/tmp"
static_dir = "$1/root/libpod"
volume_path = "$1/root/volumes"

[network]
network_config_dir = "$1/networks"
CONF
  cat > "$1/storage.conf" <<CONF
[storage]
driver = "$2"
runroot = "$1/run"
graphroot = "$1/root"
CONF
}

# kill_cgroups GLOB: kill -9 what runs in the cgroup directories GLOB names (and below them),
# then remove them, deepest first. For the cgroups a benchmark's containers were put in.
kill_cgroups() {
  for _ in 1 2 3; do
    # shellcheck disable=SC2086
    for procs in $(find $1 -name cgroup.procs 2>/dev/null); do
      for pid in $(cat "$procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    done
    sleep 0.2
  done
  for top in $1; do
    [ -d "$top" ] || continue
    find "$top" -depth -type d | while read -r d; do
      rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; }
    done
  done
}
