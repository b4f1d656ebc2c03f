#!/bin/sh
# Builds Berth, installs berthd and berth under /usr/local, starts berthd on the embedded
# one-node default and runs a first container. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/prereqs.sh
mvn -B -ntp -q -DskipTests clean package

PREFIX=${PREFIX:-/usr/local}
LIB=$PREFIX/lib/berth
CTL_LIB=$PREFIX/lib/berth-ctl
rm -rf "$LIB" "$CTL_LIB"
mkdir -p "$LIB/agent" "$CTL_LIB" "$PREFIX/bin"
cp agent/target/lib/*.jar agent/target/berth-agent-*.jar "$LIB/agent/"
cp agent/target/native/berth-launcher "$LIB/"
cp ctl/target/lib/*.jar "$CTL_LIB/"
install -m 0755 ctl/target/bin/berth "$PREFIX/bin/berth"
cat > "$PREFIX/bin/berthd" <<SH
#!/bin/sh
# Atomix (the cluster layer) reflects into java.util and java.util.concurrent.atomic. JDK 24+
# also warns about its Unsafe and JNI use unless told to allow them, flags JDK 17 refuses:
# hence the choice by the running JDK's major version.
flags="--add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"
major=\$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
if [ "\${major:-17}" -ge 24 ] 2>/dev/null; then
  flags="\$flags --sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED"
fi
exec java -XX:+UseSerialGC -Xss512k \$flags -cp '$LIB/agent/*' dev.berth.agent.AgentMain --launcher '$LIB/berth-launcher' "\$@"
SH
chmod 0755 "$PREFIX/bin/berthd"
# A class-data-sharing archive makes every CLI call start faster.
sh ctl/target/bin/make-cds-archive "$CTL_LIB" || echo "no CDS archive: the CLI works, only slower to start"

# Start berthd unless one already answers.
if ! berth info >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup berthd >/var/log/berthd.log 2>&1 &
  for _ in $(seq 1 100); do
    berth info >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
berth info

# The first image: a rootfs of Debian's busybox-static.
if ! berth image inspect busybox >/dev/null 2>&1; then
  sh scripts/busybox-rootfs.sh /tmp/berth-busybox.tar
  berth image import /tmp/berth-busybox.tar busybox:latest
  rm -f /tmp/berth-busybox.tar
fi
berth run --rm busybox echo "hello from a Berth container"
berth rm -f hello >/dev/null 2>&1 || true
berth run -d --name hello busybox sh -c 'while true; do echo "hello at $(date)"; sleep 5; done'
berth ps
