# Sourced by the benchmarks that run podman as a peer: podman_conf DIR DRIVER writes
# DIR/containers.conf and DIR/storage.conf, a configuration and a store of the benchmark's own
# under DIR, never the host's.
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
