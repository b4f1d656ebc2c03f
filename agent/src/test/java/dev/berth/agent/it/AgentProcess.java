package dev.berth.agent.it;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.ImportHeader;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real {@code berthd} in a process of its own, with its own data dir, socket and kernel
 * prefix, so that tests never collide with each other or with a berthd of the host. Closing
 * it removes every container, cgroup, mount and file it made — also after a failed test.
 *
 * <p>By default the agent runs in a network namespace made for it ({@link #netns}): its
 * bridges, veths, NAT rules and sysctls live there and go with it, and traffic the test
 * sends to its published ports ({@link #inNetns}) never leaves it. {@link #startInHostNetwork}
 * keeps the host's network (to reach a test registry on the host's loopback) and starts the
 * agent without a default bridge, so that no two test agents ever compete for a subnet.
 */
public final class AgentProcess implements AutoCloseable {
  private final Path dir;
  private final Path socket;
  private final String prefix;
  private final Path cgroupRoot = Path.of("/sys/fs/cgroup");
  /** The network namespace's name under /run/netns; null for the host's. */
  private final String netns;
  /** The cluster port (TCP and UDP) on 127.0.0.1; 0 until the first launch picks a free one, then kept across restarts. */
  private int clusterPort;
  /** Extra berthd flags (cluster tests: --node, --join, --servers ...). */
  private List<String> extraArgs = List.of();
  private Process process;
  private ManagedChannel channel;
  private EpollEventLoopGroup group;

  private AgentProcess(Path dir, String prefix, String netns) {
    this.dir = dir;
    this.socket = dir.resolve("berthd.sock");
    this.prefix = prefix;
    this.netns = netns;
  }

  /** Starts a fresh agent in a network namespace of its own, with the default bridge network. */
  public static AgentProcess start() throws Exception {
    return start(true);
  }

  /**
   * Starts a fresh agent in a network namespace of its own, with the default bridge network and
   * extra berthd flags (e.g. {@code --restart-backoff-base 100ms}), kept across restarts.
   */
  public static AgentProcess start(List<String> extraArgs) throws Exception {
    String rnd = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    AgentProcess a = new AgentProcess(Files.createTempDirectory(Path.of("/tmp"), "bt"), "bt-" + rnd, "bt-" + rnd);
    a.extraArgs = List.copyOf(extraArgs);
    try {
      run("ip", "netns", "add", a.netns);
      run("ip", "-n", a.netns, "link", "set", "lo", "up");
      a.launch();
    } catch (Exception e) {
      a.close();
      throw e;
    }
    return a;
  }

  /**
   * What a host reboot does to this agent, as far as it can see: kill -9 of the agent, then of
   * every shim (first, so that none records its container's exit), then of every container
   * process. The state on disk still says "running"; mounts and cgroups stay for the next agent
   * to clean up. {@link #launch()} starts the agent again.
   */
  public void killAsInAReboot() throws Exception {
    killHard();
    for (boolean shims : new boolean[] {true, false}) {
      for (int round = 0; round < 100; round++) {
        boolean any = false;
        for (Path cg : cgroupDirs()) {
          Path procs = cg.resolve("cgroup.procs");
          if (cg.toString().contains("/shims") != shims || !Files.exists(procs)) {
            continue;
          }
          for (String pid : Files.readAllLines(procs)) {
            if (!pid.isBlank()) {
              any = true;
              new ProcessBuilder("kill", "-9", pid.trim()).redirectErrorStream(true)
                  .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
            }
          }
        }
        if (!any) {
          break;
        }
        Thread.sleep(20);
      }
    }
  }

  /** Starts a fresh agent in the host's network namespace, without a default bridge ({@code --bridge none}). */
  public static AgentProcess startInHostNetwork() throws Exception {
    return start(false);
  }

  private static AgentProcess start(boolean ownNetns) throws Exception {
    String rnd = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    // Short paths: a unix socket path must stay under 108 bytes.
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bt");
    AgentProcess a = new AgentProcess(dir, "bt-" + rnd, ownNetns ? "bt-" + rnd : null);
    try {
      if (ownNetns) {
        run("ip", "netns", "add", a.netns);
        run("ip", "-n", a.netns, "link", "set", "lo", "up");
      }
      a.launch();
    } catch (Exception e) {
      a.close();
      throw e;
    }
    return a;
  }

  /**
   * Creates an agent in the host's network (without a default bridge) with the given cluster
   * port and extra flags, not launched yet: a cluster test picks every agent's port first, so
   * that each can name the others in --join. {@link #close()} removes it like any other.
   */
  public static AgentProcess create(int clusterPort, List<String> extraArgs) throws IOException {
    String rnd = HexFormat.of().formatHex(new SecureRandom().generateSeed(4));
    AgentProcess a = new AgentProcess(Files.createTempDirectory(Path.of("/tmp"), "bt"), "bt-" + rnd, null);
    a.clusterPort = clusterPort;
    a.extraArgs = List.copyOf(extraArgs);
    return a;
  }

  /**
   * A port free on 127.0.0.1 for both TCP and UDP, as the cluster layer needs (Atomix messaging
   * and SWIM share one port). Free when checked: the agent binds it soon after.
   */
  /**
   * Closes every agent, then removes each of {@code trees} (test PKI, work dirs), all of them also
   * when one fails; rethrows the first failure.
   */
  public static void closeAll(Iterable<AgentProcess> agents, Path... trees) throws Exception {
    Exception first = null;
    for (AgentProcess a : agents) {
      try {
        a.close();
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    for (Path tree : trees) {
      if (tree == null || !Files.exists(tree)) {
        continue;
      }
      try (var w = Files.walk(tree)) {
        for (Path p : (Iterable<Path>) w.sorted(java.util.Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  public static int freeClusterPort() throws IOException {
    for (int i = 0; i < 100; i++) {
      try (java.net.ServerSocket tcp = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        int port = tcp.getLocalPort();
        try (java.net.DatagramSocket udp = new java.net.DatagramSocket(
            new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port))) {
          return port;
        } catch (java.net.SocketException taken) {
          // its UDP twin is in use: try another
        }
      }
    }
    throw new IOException("no port free on both TCP and UDP on 127.0.0.1");
  }

  /**
   * JVM flags berthd needs for Atomix, chosen by the JDK's version as the launch scripts do: the
   * two --add-opens always; on JDK 24+ also the flags that silence its Unsafe and JNI warnings
   * (JDK 17 refuses to start with those).
   */
  public static List<String> atomixJvmFlags() {
    List<String> flags = new ArrayList<>(List.of("--add-opens", "java.base/java.util.concurrent.atomic=ALL-UNNAMED",
        "--add-opens", "java.base/java.util=ALL-UNNAMED"));
    if (Runtime.version().feature() >= 24) {
      flags.addAll(List.of("--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED"));
    }
    return flags;
  }

  public int clusterPort() {
    return clusterPort;
  }

  /** This agent's berthd output so far, for failure messages. */
  public String log() throws IOException {
    Path log = dir.resolve("berthd.log");
    return Files.exists(log) ? Files.readString(log) : "";
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  public Path dataDir() {
    return dir.resolve("data");
  }

  public Path socket() {
    return socket;
  }

  public String prefix() {
    return prefix;
  }

  public long pid() {
    return process.pid();
  }

  /** The name of the agent's network namespace (see {@code ip netns}); null when it runs in the host's. */
  public String netns() {
    return netns;
  }

  /**
   * Runs a command in the agent's network namespace (the host's when it has none) and returns
   * its exit code and output, e.g. a client of a published port.
   */
  public Exec inNetns(String... cmd) throws IOException, InterruptedException {
    List<String> full = new ArrayList<>();
    if (netns != null) {
      full.addAll(List.of("nsenter", "--net=/run/netns/" + netns, "--"));
    }
    full.addAll(List.of(cmd));
    Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + full);
    }
    return new Exec(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** How a command ended. */
  public record Exec(int code, String output) {}

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
  }

  /** Starts (or restarts) the berthd process and waits until it answers. */
  public void launch() throws Exception {
    String launcher = System.getProperty("berth.launcher");
    // Started the way a shell starts a daemon in the background (SIGINT and SIGQUIT ignored),
    // so the tests see that containers do not inherit what berthd ignores.
    List<String> cmd = new ArrayList<>(List.of("sh", "-c", "trap '' INT QUIT; exec \"$@\"", "sh"));
    if (netns != null) {
      // Only the network namespace: mounts stay in the host's mount namespace, where the tests look.
      cmd.addAll(List.of("nsenter", "--net=/run/netns/" + netns, "--"));
    }
    if (clusterPort == 0) {
      clusterPort = freeClusterPort();
    }
    cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    cmd.addAll(atomixJvmFlags());
    cmd.addAll(List.of(
        "-cp", System.getProperty("java.class.path"),
        "dev.berth.agent.AgentMain",
        "--data-dir", dataDir().toString(),
        "--socket", socket.toString(),
        "--prefix", prefix,
        "--launcher", launcher,
        // Each agent is (at least) the embedded one-server cluster, on a loopback port of its
        // own, so that agents in the host's network never collide on the default port.
        "--advertise", "127.0.0.1:" + clusterPort));
    if (netns == null) {
      cmd.addAll(List.of("--bridge", "none"));
    }
    cmd.addAll(extraArgs);
    process = new ProcessBuilder(cmd)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve("berthd.log").toFile())
        .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Files.exists(socket) || !answers()) {
      if (!process.isAlive()) {
        throw new IllegalStateException("berthd exited: " + Files.readString(dir.resolve("berthd.log")));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("berthd did not answer within 30 s: " + Files.readString(dir.resolve("berthd.log")));
      }
      Thread.sleep(50);
    }
  }

  private boolean answers() {
    try {
      containers().list(ListContainersRequest.getDefaultInstance());
      return true;
    } catch (RuntimeException e) {
      closeChannel();
      return false;
    }
  }

  public ManagedChannel channel() {
    if (channel == null) {
      group = new EpollEventLoopGroup(1);
      channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
          .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    }
    return channel;
  }

  public ContainerServiceGrpc.ContainerServiceBlockingStub containers() {
    return ContainerServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  public ContainerServiceGrpc.ContainerServiceStub containersAsync() {
    return ContainerServiceGrpc.newStub(channel());
  }

  /** Imports the busybox test image under {@code name}. */
  public Image importBusybox(String name) throws Exception {
    return importTar(channel(), name, BusyboxImage.tar());
  }

  /** Streams a rootfs tarball through ImageService.Import in 64 KiB chunks, as the CLI does. */
  public static Image importTar(ManagedChannel channel, String name, byte[] tar) throws Exception {
    return importTar(channel, ImportHeader.newBuilder().setReference(name).addCmd("/bin/sh").build(), tar);
  }

  /** Imports the busybox test image with the given header (name, command, exposed ports…). */
  public Image importBusybox(ImportHeader header) throws Exception {
    return importTar(channel(), header, BusyboxImage.tar());
  }

  private static Image importTar(ManagedChannel channel, ImportHeader header, byte[] tar) throws Exception {
    CompletableFuture<Image> done = new CompletableFuture<>();
    StreamObserver<ImportChunk> in = ImageServiceGrpc.newStub(channel).import_(new StreamObserver<>() {
      @Override
      public void onNext(Image value) {
        done.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    in.onNext(ImportChunk.newBuilder().setHeader(header).build());
    for (int off = 0; off < tar.length; off += 1 << 16) {
      in.onNext(ImportChunk.newBuilder().setData(ByteString.copyFrom(tar, off, Math.min(1 << 16, tar.length - off))).build());
    }
    in.onCompleted();
    return done.get(60, TimeUnit.SECONDS);
  }

  /** kill -9 of the agent alone: its containers and their shims keep running. */
  public void killHard() throws InterruptedException {
    closeChannel();
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  private void closeChannel() {
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
    if (group != null) {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      group = null;
    }
  }

  /** Cgroup directories of this agent, in every hierarchy, for leak checks. */
  public List<Path> cgroupDirs() throws IOException {
    List<Path> found = new ArrayList<>();
    try (Stream<Path> s = Files.list(cgroupRoot)) {
      for (Path h : (Iterable<Path>) s::iterator) {
        Path p = h.resolve(prefix);
        if (Files.isDirectory(p)) {
          try (Stream<Path> w = Files.walk(p)) {
            w.filter(Files::isDirectory).forEach(found::add);
          }
        }
      }
    }
    return found;
  }

  /** Mount points below this agent's directory, for leak checks. */
  public List<String> mounts() throws IOException {
    String d = dir.toString() + "/";
    return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
        .map(l -> l.split(" ")[4]).filter(m -> m.startsWith(d)).toList();
  }

  @Override
  public void close() throws Exception {
    try {
      if (process != null && process.isAlive()) {
        try {
          for (var c : containers().list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList()) {
            containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
          }
        } catch (RuntimeException e) {
          // fall through to the hard cleanup below
        }
      }
    } finally {
      closeChannel();
      if (process != null) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
      hardCleanup();
    }
  }

  /** Whatever is left (a test that failed midway): kill processes in our cgroups, unmount, delete. */
  private void hardCleanup() throws IOException, InterruptedException {
    List<Path> cgs = cgroupDirs();
    for (Path cg : cgs) {
      Path procs = cg.resolve("cgroup.procs");
      if (Files.exists(procs)) {
        for (String pid : Files.readAllLines(procs)) {
          new ProcessBuilder("kill", "-9", pid.trim()).start().waitFor();
        }
      }
    }
    List<String> mounts = new ArrayList<>(mounts());
    mounts.sort(Comparator.reverseOrder());
    for (String m : mounts) {
      new ProcessBuilder("umount", "-l", m).start().waitFor();
    }
    cgs.sort(Comparator.comparing(Path::getNameCount).reversed());
    for (Path cg : cgs) {
      for (int i = 0; i < 50 && Files.exists(cg); i++) {
        try {
          Files.delete(cg);
        } catch (IOException e) {
          Thread.sleep(20);
        }
      }
    }
    if (netns != null) {
      // Takes the bridges, the host ends of veths and the NAT table with it.
      new ProcessBuilder("ip", "netns", "del", netns).start().waitFor();
    } else {
      // In the host's namespace: the agent's nft table, should one be left.
      new ProcessBuilder("nft", "delete", "table", "ip", prefix).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
    }
    if (mounts().isEmpty()) {
      try (Stream<Path> w = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }
}
