package dev.berth.bench;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.StatusRuntimeException;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Throughput and latency of one TCP stream into a container: through a published port
 * (kernel NAT: 127.0.0.1:HOSTPORT, DNAT in the output chain, masquerade), straight to the
 * container's address on the bridge, through a userland relay on 127.0.0.1 that dials the
 * container's address (what docker-proxy does, see {@link TcpRelay}), and, as the floor, to the
 * same servers run outside any container on 127.0.0.1. Paired in one run: every round measures
 * every variant once, in a rotating order. Writes a markdown report.
 *
 * <p>The servers are busybox's: {@code nc -ll -p 5001 -e sh -c 'dd of=/dev/null bs=1M && echo done'}
 * as the sink (it answers "done" once it has read to EOF, so the client's clock stops when the
 * last byte has reached the server) and {@code nc -ll -p 5002 -e cat} as the echo. The floor runs
 * the very same binary (the host's /bin/busybox, which the image's rootfs is a copy of).
 *
 * <p>Not a test: {@code bench/net.sh} makes a network namespace, starts a private berthd in it,
 * and runs this inside it, so that every packet stays there: 127.0.0.1 and the bridge's subnet,
 * no other address. This only talks to berthd's socket and to those addresses.
 *
 * <p>Options ({@code --name value}): socket (required), out, import TAR (imported first as
 * image-ref, busybox:latest), image (busybox), busybox (/bin/busybox, the floor's servers),
 * rounds (11), warmup (2, discarded), size-mib (256, per throughput run), rtts (5000 round trips
 * per latency run), msg-bytes (1), connects (50 per setup run), chunk-kib (128, the client's
 * writes), relay-buffer-kib (64), prefix (bn, names the floor's cgroup PREFIX-floor),
 * cgroup-root (/sys/fs/cgroup), variants (comma list of ids), note (a line for the report).
 */
public final class NetThroughput {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int SINK_PORT = 5001;
  private static final int ECHO_PORT = 5002;
  /** Every blocking exchange is cut off after this, so a lost packet cannot hang the run. */
  private static final long DEADLINE_SECONDS = 120;

  private final Map<String, String> opt;
  private final List<String> notes = new ArrayList<>();
  private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "watchdog");
    t.setDaemon(true);
    return t;
  });
  private final AgentConnection agent;
  private String containerId;
  private final List<Process> floorServers = new ArrayList<>();
  private final List<Path> floorCgroups = new ArrayList<>();
  private final List<TcpRelay> relays = new ArrayList<>();
  private boolean cleanedUp;

  private NetThroughput(Map<String, String> opt) {
    this.opt = opt;
    this.agent = new AgentConnection(opt.get("socket"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        System.err.println("usage: NetThroughput --socket PATH [--name value]... (see the class comment)");
        System.exit(2);
      }
      o.put(args[i].substring(2), args[++i]);
    }
    if (!o.containsKey("socket")) {
      System.err.println("--socket is required");
      System.exit(2);
    }
    NetThroughput b = new NetThroughput(o);
    // SIGTERM (net.sh's cleanup) runs hooks, not finally blocks: remove what this made either way.
    Thread hook = new Thread(b::cleanup, "cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      b.run();
    } finally {
      b.cleanup();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is already running: it found the cleanup done
      }
    }
  }

  // ------------------------------------------------------------------ variants and samples

  /** One path to a sink and an echo server; {@code relayed}: through the relays, whose CPU it is charged. */
  record Variant(String id, String label, InetSocketAddress sink, InetSocketAddress echo, boolean relayed,
      ServerCpu server) {}

  /** Reads a server's CPU time in nanoseconds (its cgroup's), or -1. */
  interface ServerCpu {
    long nanos();
  }

  /** One throughput run: seconds, and CPU nanoseconds of client, relay (or -1) and server (or -1). */
  record Stream(long nanos, long clientCpu, long relayCpu, long serverCpu) {}

  /** Every sample of one variant. */
  static final class Samples {
    final List<Stream> streams = new ArrayList<>();
    final List<Long> rtts = new ArrayList<>();
    final List<Long> roundP50 = new ArrayList<>();
    final List<Long> setups = new ArrayList<>();
    long rttClientCpu;
    long rttRelayCpu;
    long rttServerCpu;
  }

  // ------------------------------------------------------------------ main flow

  private void run() throws Exception {
    int warmup = Integer.parseInt(opt.getOrDefault("warmup", "2"));
    int rounds = Integer.parseInt(opt.getOrDefault("rounds", "11"));
    long size = Long.parseLong(opt.getOrDefault("size-mib", "256")) << 20;
    int rtts = Integer.parseInt(opt.getOrDefault("rtts", "5000"));
    int msg = Integer.parseInt(opt.getOrDefault("msg-bytes", "1"));
    int connects = Integer.parseInt(opt.getOrDefault("connects", "50"));
    String image = opt.getOrDefault("image", "busybox");
    String load0 = loadAverage();

    awaitAgent();
    if (opt.containsKey("import")) {
      Image img = agent.importImage(Path.of(opt.get("import")), opt.getOrDefault("image-ref", "busybox:latest"));
      System.err.println("imported " + img.getRepoTagsList() + " " + img.getId());
    }

    // --- the container: both servers, both ports published on a host port berthd picks
    String script = "/bin/nc -ll -p " + SINK_PORT + " -e /bin/sh -c '/bin/dd of=/dev/null bs=1M 2>/dev/null && echo done' &\n"
        + "exec /bin/nc -ll -p " + ECHO_PORT + " -e /bin/cat\n";
    ContainerSpec spec = ContainerSpec.newBuilder().setImage(image).setName("net-bench")
        .setEntrypointSet(true).addCmd("/bin/sh").addCmd("-c").addCmd(script)
        .addPorts(PortBinding.newBuilder().setProtocol("tcp").setContainerPort(SINK_PORT))
        .addPorts(PortBinding.newBuilder().setProtocol("tcp").setContainerPort(ECHO_PORT))
        .build();
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
    containerId = c.getId();
    c = agent.containers().start(ContainerRef.newBuilder().setId(containerId).build());
    c = agent.containers().inspect(ContainerRef.newBuilder().setId(containerId).build());
    NetworkSettings net = c.getNetwork();
    if (net.getIpAddress().isEmpty()) {
      throw new IllegalStateException("the container has no address: " + c);
    }
    InetAddress cip = InetAddress.getByName(net.getIpAddress());
    if (!cip.isSiteLocalAddress()) {
      // The traffic rule: the bridge's private subnet and loopback, never anything else.
      throw new IllegalStateException("container address " + cip + " is not private; refusing to send to it");
    }
    int hostSink = hostPort(net, SINK_PORT);
    int hostEcho = hostPort(net, ECHO_PORT);
    InetAddress lo = InetAddress.getByName("127.0.0.1");
    Path cgRoot = Path.of(opt.getOrDefault("cgroup-root", "/sys/fs/cgroup"));
    ServerCpu containerCpu = cgroupCpu(cgRoot, c.getCgroupPath());
    System.err.printf(Locale.ROOT, "container %s at %s (bridge %s), published %d→%d, %d→%d%n", containerId.substring(0, 12),
        cip.getHostAddress(), net.getBridge(), hostSink, SINK_PORT, hostEcho, ECHO_PORT);

    // --- the floor: the same busybox servers on this namespace's loopback, in a cgroup of their own
    int floorSink = freePort();
    int floorEcho = freePort();
    ServerCpu floorCpu = startFloor(cgRoot, floorSink, floorEcho);

    // --- the relay, one per port as docker-proxy runs one process per published port
    int relayBuf = Integer.parseInt(opt.getOrDefault("relay-buffer-kib", "64")) << 10;
    TcpRelay relaySink = new TcpRelay(new InetSocketAddress(lo, 0), new InetSocketAddress(cip, SINK_PORT), relayBuf);
    relays.add(relaySink);
    TcpRelay relayEcho = new TcpRelay(new InetSocketAddress(lo, 0), new InetSocketAddress(cip, ECHO_PORT), relayBuf);
    relays.add(relayEcho);

    List<Variant> all = new ArrayList<>();
    all.add(new Variant("nat", "published port, kernel NAT: 127.0.0.1:HOSTPORT", new InetSocketAddress(lo, hostSink),
        new InetSocketAddress(lo, hostEcho), false, containerCpu));
    all.add(new Variant("direct", "container address: " + cip.getHostAddress() + ":PORT (bridge, no NAT)",
        new InetSocketAddress(cip, SINK_PORT), new InetSocketAddress(cip, ECHO_PORT), false, containerCpu));
    all.add(new Variant("relay", "userland relay (Java, a thread per direction): 127.0.0.1:P2 → container address",
        relaySink.address(), relayEcho.address(), true, containerCpu));
    all.add(new Variant("loopback", "floor: the same busybox servers on 127.0.0.1, no container",
        new InetSocketAddress(lo, floorSink), new InetSocketAddress(lo, floorEcho), false, floorCpu));
    List<Variant> variants = all;
    if (opt.containsKey("variants")) {
      List<String> want = Arrays.asList(opt.get("variants").split(","));
      variants = all.stream().filter(v -> want.contains(v.id())).toList();
    }
    TcpRelay[] relayPair = {relaySink, relayEcho};

    // Fail fast, and wait for the servers: one echo on each address before anything is timed.
    for (Variant v : variants) {
      awaitServer(v.echo(), true);
      awaitServer(v.sink(), false);
    }

    Map<String, Samples> samples = new LinkedHashMap<>();
    variants.forEach(v -> samples.put(v.id(), new Samples()));
    int n = variants.size();
    long t0 = System.nanoTime();
    for (int r = 0; r < warmup + rounds; r++) {
      boolean keep = r >= warmup;
      for (int k = 0; k < n; k++) {
        Variant v = variants.get((r + k) % n);
        Stream s = stream(v, size, relayPair);
        if (keep) {
          samples.get(v.id()).streams.add(s);
        }
      }
      for (int k = 0; k < n; k++) {
        Variant v = variants.get((r + k) % n);
        latency(v, rtts, msg, relayPair, keep ? samples.get(v.id()) : new Samples());
      }
      for (int k = 0; k < n; k++) {
        Variant v = variants.get((r + k) % n);
        setup(v, connects, keep ? samples.get(v.id()) : new Samples());
      }
      StringBuilder line = new StringBuilder();
      if (keep) {
        for (Variant v : variants) {
          Samples s = samples.get(v.id());
          line.append(String.format(Locale.ROOT, " %s %.0f MB/s p50 %s µs;", v.id(),
              rateMbps(size, s.streams.get(s.streams.size() - 1).nanos()), us(s.roundP50.get(s.roundP50.size() - 1))));
        }
      }
      System.err.printf(Locale.ROOT, "round %d/%d%s (%.0f s)%s%n", r + 1, warmup + rounds, keep ? "" : " (warm-up)",
          (System.nanoTime() - t0) / 1e9, line);
    }
    String load1 = loadAverage();
    String report = report(variants, samples, net, cip, hostSink, hostEcho, warmup, rounds, size, rtts, msg, connects,
        relayBuf, load0, load1);
    System.out.print(report);
    if (opt.containsKey("out")) {
      Path out = Path.of(opt.get("out"));
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(out, report);
      System.err.println("wrote " + out);
    }
  }

  private static int hostPort(NetworkSettings net, int containerPort) {
    return net.getPortsList().stream().filter(p -> p.getContainerPort() == containerPort && p.getHostPort() > 0)
        .mapToInt(PortBinding::getHostPort).findFirst()
        .orElseThrow(() -> new IllegalStateException("no host port for " + containerPort + ": " + net.getPortsList()));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return s.getLocalPort();
    }
  }

  // ------------------------------------------------------------------ measurements

  /** Streams {@code size} bytes into the sink on one connection; the clock stops at the sink's "done". */
  private Stream stream(Variant v, long size, TcpRelay[] relays) throws Exception {
    int chunk = Integer.parseInt(opt.getOrDefault("chunk-kib", "128")) << 10;
    ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
    long relay0 = relayCpu(v, relays);
    long server0 = v.server().nanos();
    long cpu0 = THREADS.getCurrentThreadCpuTime();
    long t0;
    long t1;
    try (SocketChannel ch = SocketChannel.open(); Deadline d = new Deadline(ch)) {
      ch.connect(v.sink());
      t0 = System.nanoTime();
      long left = size;
      while (left > 0) {
        buf.clear();
        if (left < chunk) {
          buf.limit((int) left);
        }
        while (buf.hasRemaining()) {
          left -= ch.write(buf);
        }
      }
      ch.shutdownOutput();
      String reply = readToEof(ch);
      t1 = System.nanoTime();
      if (!reply.equals("done\n")) {
        throw new IllegalStateException(v.id() + ": the sink answered \"" + reply + "\" instead of done");
      }
    }
    long cpu1 = THREADS.getCurrentThreadCpuTime();
    long relay1 = relayCpu(v, relays);
    return new Stream(t1 - t0, cpu1 - cpu0, relay0 < 0 ? -1 : relay1 - relay0, server0 < 0 ? -1 : v.server().nanos() - server0);
  }

  /** {@code rtts} request/response round trips of {@code msg} bytes on one connection, after 100 unmeasured ones. */
  private void latency(Variant v, int rtts, int msg, TcpRelay[] relays, Samples into) throws Exception {
    ByteBuffer out = ByteBuffer.allocateDirect(msg);
    ByteBuffer in = ByteBuffer.allocateDirect(msg);
    List<Long> mine = new ArrayList<>(rtts);
    long relay0 = relayCpu(v, relays);
    long server0 = v.server().nanos();
    long cpu0 = THREADS.getCurrentThreadCpuTime();
    try (SocketChannel ch = SocketChannel.open(); Deadline d = new Deadline(ch)) {
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ch.connect(v.echo());
      for (int i = 0; i < 100 + rtts; i++) {
        long t0 = System.nanoTime();
        roundTrip(ch, out, in);
        long t = System.nanoTime() - t0;
        if (i >= 100) {
          mine.add(t);
        }
      }
    }
    into.rttClientCpu += THREADS.getCurrentThreadCpuTime() - cpu0;
    long relay1 = relayCpu(v, relays);
    into.rttRelayCpu += relay0 < 0 ? 0 : relay1 - relay0;
    into.rttServerCpu += server0 < 0 ? 0 : v.server().nanos() - server0;
    into.rtts.addAll(mine);
    into.roundP50.add(Percentiles.median(mine));
  }

  /** {@code connects} fresh connections: connect, one byte echoed, close; the time to the echo. */
  private void setup(Variant v, int connects, Samples into) throws Exception {
    ByteBuffer out = ByteBuffer.allocateDirect(1);
    ByteBuffer in = ByteBuffer.allocateDirect(1);
    for (int i = 0; i < connects; i++) {
      long t0 = System.nanoTime();
      try (SocketChannel ch = SocketChannel.open(); Deadline d = new Deadline(ch)) {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ch.connect(v.echo());
        roundTrip(ch, out, in);
        into.setups.add(System.nanoTime() - t0);
      }
    }
  }

  private static void roundTrip(SocketChannel ch, ByteBuffer out, ByteBuffer in) throws IOException {
    out.clear();
    while (out.hasRemaining()) {
      ch.write(out);
    }
    in.clear();
    while (in.hasRemaining()) {
      if (ch.read(in) < 0) {
        throw new IOException("the echo server closed the connection");
      }
    }
  }

  /** The relay's CPU once every relayed connection has ended; -1 for a variant without a relay. */
  private static long relayCpu(Variant v, TcpRelay[] relays) throws InterruptedException {
    if (!v.relayed()) {
      return -1;
    }
    long sum = 0;
    for (TcpRelay r : relays) {
      if (!r.awaitIdle(10_000)) {
        throw new IllegalStateException("the relay still has connections open after 10 s");
      }
      sum += r.cpuNanos();
    }
    return sum;
  }

  private static String readToEof(SocketChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(256);
    while (ch.read(b) >= 0) {
      if (!b.hasRemaining()) {
        break;
      }
    }
    b.flip();
    return StandardCharsets.UTF_8.decode(b).toString();
  }

  /**
   * Waits up to 30 s until the server on {@code a} answers (a server still starting refuses
   * connections): one byte echoed, or for the sink an empty stream and its "done".
   */
  private void awaitServer(InetSocketAddress a, boolean echo) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try (SocketChannel ch = SocketChannel.open(); Deadline d = new Deadline(ch)) {
        ch.connect(a);
        if (echo) {
          roundTrip(ch, ByteBuffer.allocateDirect(1), ByteBuffer.allocateDirect(1));
          return;
        }
        ch.shutdownOutput();
        String reply = readToEof(ch);
        if (reply.equals("done\n")) {
          return;
        }
        throw new IOException("the sink answered \"" + reply + "\"");
      } catch (IOException e) {
        if (System.nanoTime() > deadline) {
          throw new IOException("no answer from " + a + " within 30 s", e);
        }
        Thread.sleep(50);
      }
    }
  }

  /** Closes a channel that is still open after {@link #DEADLINE_SECONDS}, which ends any blocking call on it. */
  private final class Deadline implements AutoCloseable {
    private final ScheduledFuture<?> f;

    Deadline(SocketChannel ch) {
      f = watchdog.schedule(() -> {
        try {
          ch.close();
        } catch (IOException e) {
          // closed anyway
        }
      }, DEADLINE_SECONDS, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
      f.cancel(false);
    }
  }

  // ------------------------------------------------------------------ servers' CPU

  /** The CPU of a cgroup: cgroup v2's cpu.stat usage_usec, else v1's cpuacct.usage. -1 when unreadable. */
  private ServerCpu cgroupCpu(Path root, String relative) {
    String rel = relative.startsWith("/") ? relative.substring(1) : relative;
    boolean v2 = Files.exists(root.resolve("cgroup.controllers"));
    Path file = v2 ? root.resolve(rel).resolve("cpu.stat") : root.resolve("cpuacct").resolve(rel).resolve("cpuacct.usage");
    if (!Files.isReadable(file)) {
      notes.add("Server CPU of " + relative + " not measured: " + file + " is not readable.");
      return () -> -1;
    }
    return () -> {
      try {
        if (!v2) {
          return Long.parseLong(Files.readString(file).strip());
        }
        for (String l : Files.readAllLines(file)) {
          if (l.startsWith("usage_usec ")) {
            return Long.parseLong(l.substring(11).strip()) * 1000;
          }
        }
        return -1;
      } catch (IOException | NumberFormatException e) {
        return -1;
      }
    };
  }

  /**
   * Starts the floor's busybox servers on 127.0.0.1's ports in a cgroup of their own: for their
   * CPU (cpuacct), and so that the scheduler treats them as it treats the container, a group of
   * its own (cpu), rather than as single tasks among everything else running on the host.
   */
  private ServerCpu startFloor(Path cgRoot, int sink, int echo) throws IOException {
    String bb = opt.getOrDefault("busybox", "/bin/busybox");
    String name = opt.getOrDefault("prefix", "bn") + "-floor";
    boolean v2 = Files.exists(cgRoot.resolve("cgroup.controllers"));
    List<Path> dirs = v2 ? List.of(cgRoot.resolve(name))
        : List.of(cgRoot.resolve("cpu").resolve(name), cgRoot.resolve("cpuacct").resolve(name));
    StringBuilder join = new StringBuilder();
    for (Path d : dirs) {
      Files.createDirectories(d);
      floorCgroups.add(d);
      join.append("echo $$ > ").append(d.resolve("cgroup.procs")).append(" && ");
    }
    List<List<String>> cmds = List.of(
        List.of(bb, "nc", "-ll", "-p", Integer.toString(sink), "-e", bb, "sh", "-c",
            bb + " dd of=/dev/null bs=1M 2>/dev/null && echo done"),
        List.of(bb, "nc", "-ll", "-p", Integer.toString(echo), "-e", bb, "cat"));
    for (List<String> cmd : cmds) {
      List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", join + "exec \"$@\"", "floor"));
      argv.addAll(cmd);
      floorServers.add(new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start());
    }
    return cgroupCpu(cgRoot, name);
  }

  // ------------------------------------------------------------------ report

  private String report(List<Variant> variants, Map<String, Samples> samples, NetworkSettings net, InetAddress cip,
      int hostSink, int hostEcho, int warmup, int rounds, long size, int rtts, int msg, int connects, int relayBuf,
      String load0, String load1) {
    StringBuilder o = new StringBuilder();
    o.append("# Network: a TCP stream into a container, published port against the alternatives\n\n");
    o.append("Generated by `bench/net.sh` (harness `bench/src/main/java/dev/berth/bench/NetThroughput.java`, relay "
        + "`TcpRelay.java`). Everything ran inside a network namespace of the benchmark's own: a private berthd, its "
        + "bridge, and the clients; no packet used any address but 127.0.0.1 and the bridge's subnet.\n\n");
    o.append("| fact | value |\n|---|---|\n");
    o.append("| date (UTC) | ").append(DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(
        Instant.now().atOffset(ZoneOffset.UTC).withNano(0))).append(" |\n");
    o.append("| nproc | ").append(Runtime.getRuntime().availableProcessors()).append(" |\n");
    o.append("| CPU | ").append(cpuModel()).append(" |\n");
    o.append("| kernel | ").append(firstLine(Path.of("/proc/sys/kernel/osrelease"))).append(" |\n");
    o.append("| JDK | ").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.vm.version"))
        .append(" |\n");
    o.append("| load average (1, 5, 15 min) | before ").append(load0).append("; after ").append(load1).append(" |\n");
    o.append("| network | \"").append(net.getNetwork()).append("\" on bridge interface ").append(net.getBridge()).append(", container ")
        .append(cip.getHostAddress()).append('/').append(net.getIpPrefixLen()).append(", published ")
        .append(hostSink).append("→").append(SINK_PORT).append(", ").append(hostEcho).append("→").append(ECHO_PORT)
        .append(" (all host addresses, as `-p PORT`) |\n");
    o.append("| servers | busybox `nc -ll -e`: sink `dd of=/dev/null bs=1M && echo done`, echo `cat` |\n");
    o.append(String.format(Locale.ROOT, "| rounds | %d warm-up (discarded) + %d measured; each round runs every variant "
        + "once per measurement, order rotating |%n", warmup, rounds));
    o.append(String.format(Locale.ROOT, "| per round and variant | one stream of %d MiB (client writes of %d KiB); %d "
        + "round trips of %d B on one connection (after 100 unmeasured); %d connects |%n",
        size >> 20, Integer.parseInt(opt.getOrDefault("chunk-kib", "128")), rtts, msg, connects));
    o.append(String.format(Locale.ROOT, "| relay | Java, blocking, a thread per direction from a cached pool, "
        + "%d KiB buffer, TCP_NODELAY both ways |%n", relayBuf >> 10));
    o.append('\n');

    o.append("Variants:\n\n");
    for (Variant v : variants) {
      o.append("- **").append(v.id()).append("**: ").append(v.label()).append('\n');
    }
    o.append('\n');

    Samples floor = samples.get("loopback");
    // ---- throughput
    o.append("## Throughput: one stream into the sink\n\n");
    o.append("| variant | median MB/s | min MB/s | max MB/s | median / loopback | CPU ms per GiB: client | relay | "
        + "server | sum |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    Map<String, Double> mbps = new LinkedHashMap<>();
    Map<String, Double> cpuPerGib = new LinkedHashMap<>();
    double floorMbps = floor == null ? 0 : rateMbps(size, Percentiles.median(nanos(floor.streams)));
    for (Variant v : variants) {
      Samples s = samples.get(v.id());
      List<Long> t = nanos(s.streams);
      double med = rateMbps(size, Percentiles.median(t));
      mbps.put(v.id(), med);
      double gib = (double) size * s.streams.size() / (1L << 30);
      double client = s.streams.stream().mapToLong(Stream::clientCpu).sum() / 1e6 / gib;
      boolean hasRelay = s.streams.stream().allMatch(x -> x.relayCpu() >= 0);
      double relay = hasRelay ? s.streams.stream().mapToLong(Stream::relayCpu).sum() / 1e6 / gib : 0;
      boolean hasServer = s.streams.stream().allMatch(x -> x.serverCpu() >= 0);
      double server = hasServer ? s.streams.stream().mapToLong(Stream::serverCpu).sum() / 1e6 / gib : 0;
      cpuPerGib.put(v.id(), client + relay + server);
      o.append(String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.0f | %s | %.0f | %s | %s | %.0f |%n", v.id(), med,
          rateMbps(size, t.stream().mapToLong(Long::longValue).max().orElse(0)),
          rateMbps(size, t.stream().mapToLong(Long::longValue).min().orElse(0)),
          floorMbps > 0 ? String.format(Locale.ROOT, "%.2f×", med / floorMbps) : "–", client,
          hasRelay ? String.format(Locale.ROOT, "%.0f", relay) : "–",
          hasServer ? String.format(Locale.ROOT, "%.0f", server) : "–", client + relay + server));
    }
    o.append("\nMB/s is 10^6 bytes per second, from the first write to the sink's \"done\" (sent after it read EOF). "
        + "CPU is per GiB streamed: *client* is the harness's sending thread, which also carries much of the kernel's "
        + "TCP/IP work done in its system calls (loopback and veth deliver in the sender's context); *relay* is the "
        + "relay's threads; *server* is the sink's cgroup (cpuacct). Softirq work the kernel does outside a process "
        + "(e.g. in ksoftirqd) is in none of them.\n\n");

    // ---- latency
    o.append("## Latency: request/response on one connection\n\n");
    o.append("| variant | p50 µs | p99 µs | p50 / loopback | per-round p50 min–max µs | CPU µs per round trip: client | "
        + "relay | server |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    long floorP50 = floor == null ? 0 : Percentiles.median(floor.rtts);
    Map<String, Long> p50s = new LinkedHashMap<>();
    for (Variant v : variants) {
      Samples s = samples.get(v.id());
      long p50 = Percentiles.median(s.rtts);
      p50s.put(v.id(), p50);
      double n = s.rtts.size();
      o.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s–%s | %.1f | %s | %.1f |%n", v.id(), us(p50),
          us(Percentiles.pct(s.rtts, 0.99)), floorP50 > 0 ? String.format(Locale.ROOT, "%.2f×", (double) p50 / floorP50) : "–",
          us(s.roundP50.stream().mapToLong(Long::longValue).min().orElse(0)),
          us(s.roundP50.stream().mapToLong(Long::longValue).max().orElse(0)), s.rttClientCpu / 1e3 / n,
          !v.relayed() ? "–" : String.format(Locale.ROOT, "%.1f", s.rttRelayCpu / 1e3 / n), s.rttServerCpu / 1e3 / n));
    }
    o.append(String.format(Locale.ROOT, "%nPercentiles are over all %d measured round trips of a variant (%d rounds × %d), "
        + "timed one by one with System.nanoTime.%n%n", (long) rounds * rtts, rounds, rtts));

    // ---- setup
    o.append("## Connection setup: connect, one byte echoed\n\n");
    o.append("| variant | median µs | p90 µs | median / loopback |\n|---|---:|---:|---:|\n");
    long floorSetup = floor == null ? 0 : Percentiles.median(floor.setups);
    for (Variant v : variants) {
      Samples s = samples.get(v.id());
      long m = Percentiles.median(s.setups);
      o.append(String.format(Locale.ROOT, "| %s | %s | %s | %s |%n", v.id(), us(m), us(Percentiles.pct(s.setups, 0.9)),
          floorSetup > 0 ? String.format(Locale.ROOT, "%.2f×", (double) m / floorSetup) : "–"));
    }
    o.append("\nEach connection makes busybox nc fork and exec `cat`, in the container or on the host alike; that "
        + "is most of this time. Through the relay it also includes the relay's own connect to the container.\n\n");

    // ---- what it shows
    o.append("## What it shows\n\n");
    Double nat = mbps.get("nat");
    Double relay = mbps.get("relay");
    Double direct = mbps.get("direct");
    o.append("Rounds differ a lot on a shared machine (see min and max), and a slow moment tends to hit every "
        + "variant of its round alike; so the comparisons below are paired: the median over rounds of the ratio "
        + "within each round, and how many rounds went which way.\n\n");
    if (nat != null && relay != null) {
      Paired tp = paired(samples.get("relay"), samples.get("nat"), true);
      Paired lat = paired(samples.get("relay"), samples.get("nat"), false);
      o.append(String.format(Locale.ROOT, "- Throughput: kernel NAT %.0f MB/s, userland relay %.0f MB/s (medians): %s; "
          + "per round NAT / relay %.2f× (median, %.2f–%.2f), NAT faster in %d of %d rounds.%n", nat, relay,
          tp.median() >= 1 ? "kernel NAT is faster" : "the relay is FASTER than kernel NAT", tp.median(), tp.min(),
          tp.max(), tp.wins(), tp.n()));
      o.append(String.format(Locale.ROOT, "- CPU per GiB, client + relay + server: NAT %.0f ms, relay %.0f ms (%.2f×).%n",
          cpuPerGib.get("nat"), cpuPerGib.get("relay"), cpuPerGib.get("relay") / cpuPerGib.get("nat")));
      o.append(String.format(Locale.ROOT, "- Latency p50: NAT %s µs, relay %s µs; per round relay / NAT %.2f× (median, "
          + "%.2f–%.2f), NAT quicker in %d of %d rounds.%n", us(p50s.get("nat")), us(p50s.get("relay")), lat.median(),
          lat.min(), lat.max(), lat.wins(), lat.n()));
    }
    if (nat != null && direct != null) {
      Paired tp = paired(samples.get("nat"), samples.get("direct"), true);
      Paired lat = paired(samples.get("nat"), samples.get("direct"), false);
      o.append(String.format(Locale.ROOT, "- NAT against the container's address directly (what DNAT and masquerade add to "
          + "the bridge and veth): throughput per round direct / NAT %.2f× (median, %.2f–%.2f), direct faster in %d of %d "
          + "rounds; p50 per round NAT / direct %.2f× (median), direct quicker in %d of %d.%n", tp.median(), tp.min(),
          tp.max(), tp.wins(), tp.n(), lat.median(), lat.wins(), lat.n()));
    }
    if (floor != null && direct != null) {
      Paired tp = paired(samples.get("direct"), floor, true);
      o.append(String.format(Locale.ROOT, "- The container's address against the loopback floor (what the veth pair, the "
          + "bridge and the container's namespaces cost): throughput per round loopback / direct %.2f× (median), loopback "
          + "faster in %d of %d rounds.%n", tp.median(), tp.wins(), tp.n()));
    }
    for (String note : notes) {
      o.append("- ").append(note).append('\n');
    }
    if (opt.containsKey("note")) {
      o.append("- ").append(opt.get("note")).append('\n');
    }
    if (nat != null && relay != null) {
      o.append('\n');
      boolean natBetter = nat >= relay && cpuPerGib.get("nat") <= cpuPerGib.get("relay");
      if (natBetter) {
        o.append("Kernel NAT decides once per connection (the rule is looked up for the first packet and kept in "
            + "conntrack); after that each packet only has its addresses rewritten in place, which is the gap between "
            + "NAT and the container's address above, and the bytes never leave the kernel. The relay adds a second TCP "
            + "connection and a process that wakes for every chunk, reads it into user memory and writes it out "
            + "again, and that CPU comes out of the same cores as the client's and the server's");
      } else {
        o.append("In this run the relay was not worse than kernel NAT on every measure above; that is what was "
            + "measured, and the choice of kernel NAT then rests on its other grounds");
      }
      o.append(". Berth publishes ports by kernel NAT (see `NftFirewall`) also for reasons this benchmark does not "
          + "measure: no agent process carries the traffic, so connections survive an agent restart, and the "
          + "container sees the client's real address. Limits of the comparison: the relay is Java copying through "
          + "a user-space buffer; docker-proxy is Go, whose `io.Copy` between two TCP sockets uses splice(2) and so "
          + "copies less, though it still wakes a process and crosses a second TCP connection per byte. The "
          + "clients, servers and relay share the machine's ").append(Runtime.getRuntime().availableProcessors())
          .append(" CPUs, so CPU spent relaying is throughput lost; with idle cores the relay's throughput gap "
              + "would shrink while its CPU per byte stayed.\n");
    }
    return o.toString();
  }

  /** Per-round ratios of a slower-expected variant against a faster-expected one; wins: rounds the latter won. */
  record Paired(double median, double min, double max, int wins, int n) {}

  /**
   * Round by round (the samples are in round order): for throughput the time ratio slow / fast
   * (= MB/s fast / slow), for latency the p50 ratio slow / fast; above 1 means {@code fast} won.
   */
  private static Paired paired(Samples slow, Samples fast, boolean throughput) {
    List<Double> r = new ArrayList<>();
    int n = throughput ? Math.min(slow.streams.size(), fast.streams.size()) : Math.min(slow.roundP50.size(), fast.roundP50.size());
    for (int i = 0; i < n; i++) {
      r.add(throughput ? (double) slow.streams.get(i).nanos() / fast.streams.get(i).nanos()
          : (double) slow.roundP50.get(i) / fast.roundP50.get(i));
    }
    if (r.isEmpty()) {
      return new Paired(0, 0, 0, 0, 0);
    }
    double[] a = r.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    double med = a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    int wins = (int) r.stream().filter(x -> x > 1).count();
    return new Paired(med, a[0], a[a.length - 1], wins, a.length);
  }

  private static List<Long> nanos(List<Stream> s) {
    return s.stream().map(Stream::nanos).toList();
  }

  private static double rateMbps(long bytes, long nanos) {
    return nanos <= 0 ? 0 : bytes / (nanos / 1e9) / 1e6;
  }

  private static String us(long nanos) {
    return String.format(Locale.ROOT, "%.1f", nanos / 1e3);
  }

  private static String cpuModel() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (l.startsWith("model name")) {
          return l.substring(l.indexOf(':') + 1).strip();
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return "?";
  }

  private static String firstLine(Path p) {
    try {
      return Files.readAllLines(p).get(0).strip();
    } catch (IOException | IndexOutOfBoundsException e) {
      return "?";
    }
  }

  private static String loadAverage() {
    String l = firstLine(Path.of("/proc/loadavg"));
    String[] f = l.split(" ");
    return f.length >= 3 ? f[0] + ", " + f[1] + ", " + f[2] : l;
  }

  // ------------------------------------------------------------------ gRPC

  /** The agent may still be starting: wait until it answers a List, for up to 60 s. */
  private void awaitAgent() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        agent.containers().list(ListContainersRequest.getDefaultInstance());
        return;
      } catch (StatusRuntimeException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(100);
      }
    }
  }



  // ------------------------------------------------------------------ cleanup

  /** Removes the container, stops the floor's servers and the relays, removes the floor's cgroup. Idempotent. */
  private synchronized void cleanup() {
    if (cleanedUp) {
      return;
    }
    cleanedUp = true;
    for (TcpRelay r : relays) {
      try {
        r.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
    if (containerId != null) {
      try {
        agent.containers().remove(RemoveContainerRequest.newBuilder().setId(containerId).setForce(true).build());
      } catch (StatusRuntimeException e) {
        System.err.println("cannot remove container " + containerId + ": " + e.getStatus());
      }
    }
    for (Process p : floorServers) {
      p.destroyForcibly();
    }
    // The servers' forked children (one per connection) are in the cgroups too.
    for (Path cg : floorCgroups) {
      for (int i = 0; i < 50 && Files.exists(cg); i++) {
        try {
          for (String pid : Files.readAllLines(cg.resolve("cgroup.procs"))) {
            ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
          }
          Files.delete(cg);
        } catch (IOException | RuntimeException e) {
          try {
            Thread.sleep(20);
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            break;
          }
        }
      }
    }
    agent.close();
    watchdog.shutdownNow();
  }
}
