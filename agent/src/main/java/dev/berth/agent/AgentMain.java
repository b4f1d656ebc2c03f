package dev.berth.agent;

import dev.berth.agent.api.ClusterGrpcService;
import dev.berth.agent.api.ContainerGrpcService;
import dev.berth.agent.api.ErrorInterceptor;
import dev.berth.agent.api.ImageGrpcService;
import dev.berth.agent.api.NetworkGrpcService;
import dev.berth.agent.api.NodeGrpcService;
import dev.berth.agent.api.SystemGrpcService;
import dev.berth.agent.api.VolumeGrpcService;
import dev.berth.agent.cluster.Cluster;
import dev.berth.agent.cluster.ClusterOptions;
import dev.berth.agent.cluster.NodeDirectory;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.Pusher;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.Syscalls;
import dev.berth.agent.runtime.VolumeStore;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.net.LinuxNetworkDriver;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkRecord;
import dev.berth.agent.runtime.net.NetworkStore;
import dev.berth.agent.runtime.net.NftFirewall;
import dev.berth.agent.runtime.net.PortReservations;
import dev.berth.agent.runtime.net.RouteTable;
import dev.berth.agent.runtime.net.Subnet;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code berthd}: the composition root, the one place that wires the agent's parts together,
 * and its command line.
 */
@Command(name = "berthd", mixinStandardHelpOptions = true, version = AgentMain.VERSION,
    description = "The Berth agent: runs containers on this host and serves the Berth API.")
public final class AgentMain implements Callable<Integer> {
  public static final String VERSION = "0.1.0";
  private static final Logger LOG = Logger.getLogger(AgentMain.class.getName());
  /** Held so that its level sticks (the log manager keeps loggers only weakly). */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.grpc.netty.shaded.io.netty.bootstrap");

  @Option(names = "--data-dir", description = "Where the agent keeps its state (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("/var/lib/berth");

  @Option(names = "--socket", description = "Unix socket of the API, root only (default: ${DEFAULT-VALUE}).")
  Path socket = Path.of("/run/berth/berthd.sock");

  @Option(names = "--tcp", paramLabel = "HOST:PORT",
      description = "Also serve the API on TCP. Without TLS only a loopback address is accepted: the API is root-equivalent.")
  String tcp;

  @Option(names = "--prefix", description = "Prefix of everything the agent creates in kernel-wide namespaces "
      + "(cgroups, mounts, later bridges and veths), so agents sharing a kernel never touch each other's (default: ${DEFAULT-VALUE}).")
  String prefix = "berth";

  @Option(names = "--cgroup-root", description = "Where the cgroup hierarchies are mounted (default: ${DEFAULT-VALUE}).")
  Path cgroupRoot = Path.of("/sys/fs/cgroup");

  @Option(names = "--launcher", description = "Path of berth-launcher (default: next to the agent's jars, or $BERTH_LAUNCHER).")
  Path launcher;

  @Option(names = "--log-max-size", description = "Default size at which container logs rotate, in bytes (default: ${DEFAULT-VALUE}).")
  long logMaxSize = ContainerRuntime.Settings.DEFAULT_LOG_MAX_SIZE;

  @Option(names = "--log-max-file", description = "Default number of container log files kept (default: ${DEFAULT-VALUE}).")
  int logMaxFile = ContainerRuntime.Settings.DEFAULT_LOG_MAX_FILES;

  @Option(names = {"--node", "--node-name"}, description = "This node's name, unique in its cluster (default: the host name).")
  String nodeName;

  @Mixin
  ClusterOptions clusterOptions = new ClusterOptions();

  @Option(names = {"-b", "--bridge"}, paramLabel = "NAME",
      description = "Bridge interface of the default network, created when missing (default: the prefix and 0, e.g. berth0); "
          + "\"none\": no default network, containers started without --network get loopback only.")
  String bridge = "";

  @Option(names = "--bridge-subnet", paramLabel = "CIDR",
      description = "Subnet of the default bridge network; refused when it overlaps a route of the host (default: ${DEFAULT-VALUE}).")
  String bridgeSubnet = NetworkStore.DEFAULT_SUBNET;

  @Option(names = "--insecure-registry", paramLabel = "HOST[:PORT]",
      description = "A registry reached over plain HTTP; repeatable. Loopback registries always are.")
  List<String> insecureRegistries = new ArrayList<>();

  /** A running agent; {@link #close()} stops serving and leaves containers running. */
  public static final class Agent implements AutoCloseable {
    private final List<Server> servers;
    private final ContainerRuntime runtime;
    private final List<AutoCloseable> parts;

    Agent(List<Server> servers, ContainerRuntime runtime, AutoCloseable... parts) {
      this.servers = servers;
      this.runtime = runtime;
      this.parts = List.of(parts);
    }

    public ContainerRuntime runtime() {
      return runtime;
    }

    public void awaitTermination() throws InterruptedException {
      for (Server s : servers) {
        s.awaitTermination();
      }
    }

    @Override
    public void close() throws IOException {
      for (Server s : servers) {
        s.shutdownNow();
      }
      for (Server s : servers) {
        try {
          s.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      runtime.close();
      for (AutoCloseable part : parts) {
        try {
          part.close();
        } catch (Exception e) {
          LOG.warning("closing " + part + ": " + e.getMessage());
        }
      }
    }
  }

  public static void main(String[] args) {
    // Netty's server sets SO_KEEPALIVE on every accepted channel; unix sockets do not know it
    // and each connection would log a warning.
    NETTY_BOOTSTRAP.setLevel(java.util.logging.Level.SEVERE);
    int code = new CommandLine(new AgentMain()).execute(args);
    if (code != 0) {
      System.exit(code);
    }
  }

  @Override
  public Integer call() throws Exception {
    Agent agent = start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        agent.close();
      } catch (IOException e) {
        LOG.warning("shutdown: " + e.getMessage());
      }
      stopped.countDown();
    }));
    LOG.info("berthd " + VERSION + " serving on " + socket + (tcp != null ? " and " + tcp : ""));
    agent.awaitTermination();
    stopped.await();
    return 0;
  }

  /** Builds and starts the agent as configured; the composition root. */
  public Agent start() throws IOException {
    Path lau = resolveLauncher();
    Files.createDirectories(dataDir);
    Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx--x--x"));
    Syscalls syscalls = new LinuxSyscalls();
    Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
    ImageStore images = new ImageStore(dataDir.resolve("images"), syscalls, LayerLimits.DEFAULT);
    VolumeStore volumes = new VolumeStore(dataDir.resolve("volumes"));
    NetworkManager networks = networks(syscalls);
    ContainerRuntime runtime = new ContainerRuntime(
        new ContainerRuntime.Settings(dataDir, prefix, lau, logMaxSize, logMaxFile), syscalls, cgroups, images, volumes,
        networks);
    // After the runtime adopted the running containers' endpoints, so their ports are in the first rules.
    networks.start();
    RegistryClient registries = new RegistryClient(java.util.Set.copyOf(insecureRegistries));
    Puller puller = new Puller(registries, images);
    Pusher pusher = new Pusher(registries, images);
    Path tmp = dataDir.resolve("tmp");
    deleteChildren(tmp);
    String node = nodeName != null ? nodeName : InetAddress.getLocalHost().getHostName();
    // Built here so that a bad cluster flag fails the start; Atomix itself starts in the background below.
    Cluster cluster = new Cluster(clusterOptions.toConfig(node, dataDir), new LocalFacts(node, runtime, images));
    var services = List.of(
        ServerInterceptors.intercept(new ContainerGrpcService(runtime), new ErrorInterceptor()),
        ServerInterceptors.intercept(new ImageGrpcService(images, runtime, tmp, puller, pusher, registries), new ErrorInterceptor()),
        ServerInterceptors.intercept(new VolumeGrpcService(volumes, runtime), new ErrorInterceptor()),
        ServerInterceptors.intercept(new NetworkGrpcService(networks, runtime), new ErrorInterceptor()),
        ServerInterceptors.intercept(new SystemGrpcService(runtime, images, cgroups, VERSION, node, dataDir, prefix),
            new ErrorInterceptor()),
        ServerInterceptors.intercept(new ClusterGrpcService(cluster::status), new ErrorInterceptor()),
        ServerInterceptors.intercept(new NodeGrpcService(new NodeDirectory(cluster.nodes(), cluster.membership(), cluster.gossip())),
            new ErrorInterceptor()));

    List<Server> servers = new ArrayList<>();
    EventLoopGroup boss = new EpollEventLoopGroup(1);
    EventLoopGroup workers = new EpollEventLoopGroup(2);
    Files.createDirectories(socket.toAbsolutePath().getParent());
    Files.deleteIfExists(socket);
    NettyServerBuilder unix = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
    services.forEach(unix::addService);
    servers.add(unix.build().start());
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    if (tcp != null) {
      InetSocketAddress addr = parseTcp(tcp);
      NettyServerBuilder t = NettyServerBuilder.forAddress(addr)
          .channelType(EpollServerSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
      services.forEach(t::addService);
      servers.add(t.build().start());
    }
    // Last: the local API already answers, and never waits for the cluster (Raft start-up takes seconds).
    cluster.start();
    return new Agent(servers, runtime, puller, pusher, registries, networks, cluster);
  }

  /**
   * The bridge networks: records under the data dir, bridges and container namespaces through
   * netlink, NAT and isolation through nftables, all named after the prefix.
   */
  private NetworkManager networks(Syscalls syscalls) throws IOException {
    Subnet subnet = Subnet.parse(bridgeSubnet);
    NetworkStore store = new NetworkStore(dataDir.resolve("networks"), prefix,
        bridge.equals("none") ? null : new NetworkStore.DefaultBridge(bridge, subnet), RouteTable::read);
    var defaultNetwork = store.find(NetworkRecord.DEFAULT);
    if (defaultNetwork.isPresent()) {
      // A route the host already has for the subnet, other than the default bridge's own, makes it unusable.
      String own = defaultNetwork.get().bridge();
      RouteTable.read().excludingInterfaces(own::equals).requireNoOverlap(subnet);
    }
    return new NetworkManager(store, new LinuxNetworkDriver(syscalls), new NftFirewall(prefix),
        new PortReservations(), prefix);
  }

  static InetSocketAddress parseTcp(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      throw BerthException.invalid("invalid --tcp \"" + hostPort + "\": expected HOST:PORT, e.g. 127.0.0.1:2377");
    }
    String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw BerthException.invalid("invalid --tcp \"" + hostPort + "\": the port is not a number");
    }
    InetSocketAddress addr = new InetSocketAddress(host, port);
    if (addr.isUnresolved() || !addr.getAddress().isLoopbackAddress()) {
      throw BerthException.invalid("refusing to serve the API on " + hostPort
          + " without TLS: the API is root-equivalent; use a loopback address");
    }
    return addr;
  }

  private Path resolveLauncher() {
    if (launcher != null) {
      return requireExecutable(launcher);
    }
    String env = System.getenv("BERTH_LAUNCHER");
    if (env != null && !env.isBlank()) {
      return requireExecutable(Path.of(env));
    }
    String prop = System.getProperty("berth.launcher");
    if (prop != null) {
      return requireExecutable(Path.of(prop));
    }
    try {
      Path jar = Path.of(AgentMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      for (Path candidate : List.of(jar.resolveSibling("berth-launcher"), jar.getParent().resolveSibling("berth-launcher"),
          jar.getParent().resolveSibling("native").resolve("berth-launcher"))) {
        if (Files.isExecutable(candidate)) {
          return candidate;
        }
      }
    } catch (Exception e) {
      // fall through to the error below
    }
    throw BerthException.failedPrecondition("cannot find berth-launcher: give --launcher PATH or set BERTH_LAUNCHER");
  }

  private static Path requireExecutable(Path p) {
    if (!Files.isExecutable(p)) {
      throw BerthException.failedPrecondition("the launcher " + p + " does not exist or is not executable");
    }
    return p.toAbsolutePath();
  }

  private static void deleteChildren(Path dir) throws IOException {
    Files.createDirectories(dir);
    try (var s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
