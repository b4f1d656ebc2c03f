package dev.berth.bench;

import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.LayerState;
import dev.berth.proto.v1.PullProgress;
import dev.berth.proto.v1.PullRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Pull of one image from a local registry into an empty store: berthd's Pull RPC against
 * {@code skopeo copy docker://… oci:DIR}, paired in one run (alternating which goes first),
 * each round into a fresh store. Also the unpack throughput berthd reached.
 *
 * <p>Besides wall time it records the CPU time each pull cost: berthd's (its /proc stat), skopeo's
 * (the children this JVM reaped), the registry's, and the whole machine's (/proc/stat), so that
 * a round disturbed by other work on the machine shows.
 *
 * <p>Arguments: --reference REF --agent-classpath CP --launcher PATH --tmp DIR --rounds N --out
 * FILE --describe TEXT (required); --registry-pid PID, --agent-java-options "OPTS" (split at
 * spaces: e.g. a JFR recording) (optional). Not a test.
 */
public final class PullThroughput {
  private final Map<String, String> opt;
  private final Path tmp;

  private PullThroughput(Map<String, String> opt) {
    this.opt = opt;
    this.tmp = Path.of(opt.get("tmp"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> opt = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
    }
    new PullThroughput(opt).run();
    System.exit(0);
  }

  /** One Berth pull: wall time, bytes of layers, the extract phase, and CPU time (nanoseconds). */
  record BerthRun(long wallNanos, long layerBytes, long extractNanos, Cpu cpu) {}

  /** One skopeo copy: wall time and CPU time. */
  record SkopeoRun(long wallNanos, Cpu cpu) {}

  /**
   * CPU time spent during one pull, in nanoseconds (clock-tick resolution, 10 ms).
   *
   * @param own the puller's: berthd, or skopeo
   * @param registry the registry's (0 when its pid is not known)
   * @param machine all CPUs of the machine, busy (not idle or iowait), by anything
   */
  record Cpu(long own, long registry, long machine) {}

  private void run() throws Exception {
    int rounds = Integer.parseInt(opt.get("rounds"));
    startAgent();
    try {
      measure(rounds);
    } finally {
      stopAgent();
    }
  }

  private void measure(int rounds) throws Exception {
    List<BerthRun> berth = new ArrayList<>();
    List<SkopeoRun> skopeo = new ArrayList<>();
    for (int r = -1; r < rounds; r++) { // round -1 warms both up and is discarded
      boolean berthFirst = (r & 1) == 0;
      BerthRun b = null;
      SkopeoRun s = null;
      if (berthFirst) {
        b = berthPull(r);
        s = skopeoPull(r);
      } else {
        s = skopeoPull(r);
        b = berthPull(r);
      }
      if (r < 0) {
        cold = b;
        coldSkopeo = s;
      } else {
        berth.add(b);
        skopeo.add(s);
        System.err.printf(Locale.ROOT, "round %d: berth %.0f ms (cpu %.0f ms, registry %.0f, machine %.0f),"
            + " skopeo %.0f ms (cpu %.0f ms, registry %.0f, machine %.0f)%n", r, b.wallNanos() / 1e6,
            b.cpu().own() / 1e6, b.cpu().registry() / 1e6, b.cpu().machine() / 1e6, s.wallNanos() / 1e6,
            s.cpu().own() / 1e6, s.cpu().registry() / 1e6, s.cpu().machine() / 1e6);
      }
    }
    write(berth, skopeo);
  }

  /** Round -1: berthd's first pull after it started (its JIT still cold), and skopeo's. */
  private BerthRun cold;
  private SkopeoRun coldSkopeo;
  private Process agent;
  private EpollEventLoopGroup group;
  private ManagedChannel channel;

  /** One berthd for every round, as a host has; each round removes the image, so the store is empty again. */
  private void startAgent() throws Exception {
    Path dir = tmp.resolve("berthd");
    Path socket = dir.resolve("s.sock");
    Files.createDirectories(dir);
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC", "-Xss512k"));
    String extra = opt.getOrDefault("agent-java-options", "").trim();
    if (!extra.isEmpty()) {
      cmd.addAll(List.of(extra.split("\\s+")));
    }
    cmd.addAll(List.of(
        // Atomix (the cluster layer) reflects into these; JDK 24+ also warns unless allowed.
        "--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED", "--add-opens", "java.base/java.util=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 24) {
      cmd.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"));
    }
    cmd.addAll(List.of("-cp", opt.get("agent-classpath"), "dev.berth.agent.AgentMain",
        "--data-dir", dir.resolve("data").toString(), "--socket", socket.toString(),
        "--prefix", "bp-" + ProcessHandle.current().pid(), "--launcher", opt.get("launcher"),
        // Pulls need no container network: no bridge on the host.
        "--bridge", "none"));
    agent = new ProcessBuilder(cmd)
        .redirectErrorStream(true).redirectOutput(dir.resolve("berthd.log").toFile()).start();
    group = new EpollEventLoopGroup(1);
    channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    awaitSocket(socket, agent);
  }

  private void stopAgent() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
    if (agent != null) {
      agent.destroy();
      if (!agent.waitFor(10, TimeUnit.SECONDS)) {
        agent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
    deleteTree(tmp.resolve("berthd"));
  }

  private BerthRun berthPull(int round) throws Exception {
    {
      ImageServiceGrpc.ImageServiceBlockingStub images = ImageServiceGrpc.newBlockingStub(channel);
      Map<String, Long> extractStart = new LinkedHashMap<>();
      Map<String, Long> done = new LinkedHashMap<>();
      Map<String, Long> sizes = new LinkedHashMap<>();
      long cpu0 = agentCpu();
      long reg0 = registryCpu();
      long machine0 = machineCpu();
      long t0 = System.nanoTime();
      Iterator<PullProgress> events = images.withDeadlineAfter(10, TimeUnit.MINUTES)
          .pull(PullRequest.newBuilder().setReference(opt.get("reference")).build());
      boolean gotImage = false;
      while (events.hasNext()) {
        PullProgress p = events.next();
        long now = System.nanoTime();
        if (p.hasLayer()) {
          String d = p.getLayer().getDigest();
          sizes.put(d, p.getLayer().getTotalBytes());
          if (p.getLayer().getState() == LayerState.EXTRACTING) {
            extractStart.putIfAbsent(d, now);
          } else if (p.getLayer().getState() == LayerState.DONE) {
            done.put(d, now);
          }
        }
        gotImage |= p.hasImage();
      }
      long wall = System.nanoTime() - t0;
      Cpu cpu = new Cpu(agentCpu() - cpu0, registryCpu() - reg0, machineCpu() - machine0);
      if (!gotImage) {
        throw new IllegalStateException("the pull ended without an image");
      }
      // Layers unpack in parallel: the extract phase runs from the first start to the last end.
      long first = extractStart.values().stream().min(Long::compare).orElse(0L);
      long last = done.values().stream().max(Long::compare).orElse(0L);
      images.remove(RemoveImageRequest.newBuilder().setReference(opt.get("reference")).setForce(true).build());
      if (!images.list(ListImagesRequest.getDefaultInstance()).getImagesList().isEmpty()) {
        throw new IllegalStateException("the store is not empty after removing the image");
      }
      return new BerthRun(wall, sizes.values().stream().mapToLong(Long::longValue).sum(), Math.max(0, last - first), cpu);
    }
  }

  private SkopeoRun skopeoPull(int round) throws Exception {
    Path dir = tmp.resolve("s" + (round + 1));
    try {
      long cpu0 = reapedChildrenCpu();
      long reg0 = registryCpu();
      long machine0 = machineCpu();
      long t0 = System.nanoTime();
      Process p = new ProcessBuilder("skopeo", "copy", "-q", "--src-tls-verify=false",
          "docker://" + opt.get("reference"), "oci:" + dir + ":x").redirectErrorStream(true).start();
      String output = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) {
        throw new IllegalStateException("skopeo failed: " + output);
      }
      long wall = System.nanoTime() - t0;
      return new SkopeoRun(wall, new Cpu(reapedChildrenCpu() - cpu0, registryCpu() - reg0, machineCpu() - machine0));
    } finally {
      deleteTree(dir);
    }
  }

  // ---- CPU time, from /proc (Linux); clock ticks are 10 ms (USER_HZ 100 on every Linux arch this runs on)

  private static final long NANOS_PER_TICK = 10_000_000L;

  private long agentCpu() throws IOException {
    return processCpu(agent.pid(), false);
  }

  private long registryCpu() throws IOException {
    String pid = opt.get("registry-pid");
    return pid == null ? 0 : processCpu(Long.parseLong(pid), false);
  }

  /** CPU of this JVM's children that have been waited for: the skopeo processes. */
  private static long reapedChildrenCpu() throws IOException {
    return processCpu(ProcessHandle.current().pid(), true);
  }

  /** utime + stime of a process (or cutime + cstime: its reaped children), from /proc/PID/stat. */
  private static long processCpu(long pid, boolean children) throws IOException {
    String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    int first = children ? 13 : 11; // fields 14/15 (utime, stime) or 16/17 (cutime, cstime), from state = field 3
    return (Long.parseLong(f[first]) + Long.parseLong(f[first + 1])) * NANOS_PER_TICK;
  }

  /** Busy time of all CPUs (user, nice, system, irq, softirq, steal), from /proc/stat. */
  private static long machineCpu() throws IOException {
    String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
    long busy = 0;
    for (int i : new int[] {1, 2, 3, 6, 7, 8}) {
      busy += Long.parseLong(f[i]);
    }
    return busy * NANOS_PER_TICK;
  }

  private static void awaitSocket(Path socket, Process agent) throws InterruptedException {
    for (int i = 0; i < 600 && !Files.exists(socket); i++) {
      if (!agent.isAlive()) {
        throw new IllegalStateException("berthd exited before it served");
      }
      Thread.sleep(50);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }

  private void write(List<BerthRun> berth, List<SkopeoRun> skopeoRuns) throws IOException {
    List<Long> skopeo = skopeoRuns.stream().map(SkopeoRun::wallNanos).toList();
    long berthMedian = median(berth.stream().map(BerthRun::wallNanos).toList());
    long skopeoMedian = median(skopeo);
    long bytes = berth.get(0).layerBytes();
    List<Long> unpackRates = berth.stream().filter(b -> b.extractNanos() > 0)
        .map(b -> (long) (b.layerBytes() / (b.extractNanos() / 1e9))).toList();
    StringBuilder o = new StringBuilder();
    o.append("# Pull throughput: an image of large random layers into an empty store\n\n");
    o.append("Generated by `bench/pull.sh` (harness `bench/src/main/java/dev/berth/bench/PullThroughput.java`).\n\n");
    o.append("| fact | value |\n|---|---|\n");
    o.append("| date (UTC) | ").append(Instant.now().toString(), 0, 19).append(" |\n");
    o.append("| image | ").append(opt.get("describe")).append(" |\n");
    o.append("| nproc | ").append(Runtime.getRuntime().availableProcessors()).append(" |\n");
    o.append("| JDK | ").append(System.getProperty("java.vm.name")).append(' ').append(System.getProperty("java.version")).append(" |\n");
    o.append("| rounds | 1 warm-up (discarded) + ").append(berth.size())
        .append(", each into an empty store (berthd: one agent, the image removed after each pull; skopeo: a new"
            + " directory), the order alternating |\n\n");
    o.append("| variant | median s | min s | max s | MB/s (median) | median / skopeo |\n|---|---:|---:|---:|---:|---:|\n");
    row(o, "Berth: Pull RPC (download, verify, unpack every layer)", berth.stream().map(BerthRun::wallNanos).toList(),
        bytes, skopeoMedian);
    row(o, "skopeo copy docker://… oci:DIR (download and verify, no unpack)", skopeo, bytes, skopeoMedian);
    o.append("\nCPU time per pull, median (seconds of CPU; 2 cores give 2 per second of wall time):\n\n");
    o.append("| variant | puller | registry | whole machine |\n|---|---:|---:|---:|\n");
    cpuRow(o, "Berth (berthd)", berth.stream().map(BerthRun::cpu).toList());
    cpuRow(o, "skopeo", skopeoRuns.stream().map(SkopeoRun::cpu).toList());
    o.append(String.format(Locale.ROOT, "%nThe warm-up round (not in the tables): berthd's first pull after it started, its"
        + " JIT compiler still busy, took %.2f s and %.2f CPU-s; skopeo's %.2f s and %.2f CPU-s.%n",
        cold.wallNanos() / 1e9, cold.cpu().own() / 1e9, coldSkopeo.wallNanos() / 1e9, coldSkopeo.cpu().own() / 1e9));
    o.append("\nLayer bytes over berthd's EXTRACTING phase (layers unpack while they download, so this is only the"
        + " part left after each download ended): median ")
        .append(unpackRates.isEmpty() ? "n/a" : String.format(Locale.ROOT, "%.0f MB/s", median(unpackRates) / 1e6))
        .append(".\n\n");
    o.append(berthMedian <= skopeoMedian
        ? "Target \"no slower than skopeo\": met.\n"
        : String.format(Locale.ROOT, "Target \"no slower than skopeo\": NOT met (%.2f×). Berth also unpacks each layer,"
            + " which skopeo copy to an OCI layout does not.%n", berthMedian / (double) skopeoMedian));
    Files.writeString(Path.of(opt.get("out")), o.toString());
    System.out.print(o);
  }

  private static void row(StringBuilder o, String label, List<Long> walls, long bytes, long skopeoMedian) {
    long m = median(walls);
    o.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.0f | %.2f× |%n", label, m / 1e9,
        walls.stream().min(Long::compare).orElse(0L) / 1e9, walls.stream().max(Long::compare).orElse(0L) / 1e9,
        bytes / (m / 1e9) / 1e6, m / (double) skopeoMedian));
  }

  private static void cpuRow(StringBuilder o, String label, List<Cpu> cpu) {
    o.append(String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.2f |%n", label,
        median(cpu.stream().map(Cpu::own).toList()) / 1e9, median(cpu.stream().map(Cpu::registry).toList()) / 1e9,
        median(cpu.stream().map(Cpu::machine).toList()) / 1e9));
  }

  static long median(List<Long> v) {
    List<Long> s = new ArrayList<>(v);
    s.sort(null);
    return s.isEmpty() ? 0 : s.get(s.size() / 2);
  }
}
