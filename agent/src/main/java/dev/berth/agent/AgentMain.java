package dev.berth.agent;

import dev.berth.agent.api.AgentChannels;
import dev.berth.agent.api.ClusterGrpcService;
import dev.berth.agent.api.ContainerForwarder;
import dev.berth.agent.api.ContainerGrpcService;
import dev.berth.agent.api.ErrorInterceptor;
import dev.berth.agent.api.EventGrpcService;
import dev.berth.agent.api.EventPeers;
import dev.berth.agent.api.ForwardedCallInterceptor;
import dev.berth.agent.api.ImageGrpcService;
import dev.berth.agent.api.JobGrpcService;
import dev.berth.agent.api.NetworkGrpcService;
import dev.berth.agent.api.NodeGrpcService;
import dev.berth.agent.api.SecretClient;
import dev.berth.agent.api.SecretGrpcService;
import dev.berth.agent.api.SystemGrpcService;
import dev.berth.agent.api.VolumeGrpcService;
import dev.berth.agent.cluster.Cluster;
import dev.berth.agent.cluster.ClusterConfig;
import dev.berth.agent.cluster.ClusterOptions;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.Endpoint;
import dev.berth.agent.cluster.MessagingTls;
import dev.berth.agent.cluster.NodeDirectory;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.cluster.SealKey;
import dev.berth.agent.events.ClusterRecorder;
import dev.berth.agent.events.ContainerRecorder;
import dev.berth.agent.events.EventLog;
import dev.berth.agent.events.EventOptions;
import dev.berth.agent.events.EventStream;
import dev.berth.agent.events.ImageEvents;
import dev.berth.agent.events.Listeners;
import dev.berth.agent.cluster.SelfSignedTls;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.jobs.AllocationTags;
import dev.berth.agent.jobs.ClusterView;
import dev.berth.agent.jobs.CredentialHandout;
import dev.berth.agent.jobs.JobStore;
import dev.berth.agent.jobs.Jobs;
import dev.berth.agent.jobs.SchedulingLoop;
import dev.berth.agent.metrics.AgentMetrics;
import dev.berth.agent.metrics.ContainerCollector;
import dev.berth.agent.metrics.ContainerSampler;
import dev.berth.agent.metrics.GrpcMetricsInterceptor;
import dev.berth.agent.metrics.MetricsServer;
import dev.berth.agent.metrics.RuntimeTargets;
import dev.berth.agent.metrics.SchedulerMetrics;
import dev.berth.agent.metrics.TimedClusterStore;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.Pusher;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.Syscalls;
import dev.berth.agent.runtime.VolumeStore;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.cgroup.DescriptorBudget;
import dev.berth.agent.runtime.net.LinuxNetworkDriver;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkRecord;
import dev.berth.agent.runtime.net.NetworkStore;
import dev.berth.agent.runtime.net.NftFirewall;
import dev.berth.agent.runtime.net.PortReservations;
import dev.berth.agent.runtime.net.RouteTable;
import dev.berth.agent.runtime.net.Subnet;
import dev.berth.agent.task.AllocationRunner;
import dev.berth.agent.task.Backoff;
import dev.berth.agent.task.Durations;
import dev.berth.agent.task.Supervisor;
import dev.berth.agent.tls.NodeIdentityInterceptor;
import dev.berth.agent.tls.TlsMaterial;
import dev.berth.agent.tls.TlsOptions;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.scheduler.Scheduler;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code berthd}: the composition root, the one place that wires the agent's parts together,
 * and its command line.
 */
@Command(name = "berthd", mixinStandardHelpOptions = true, version = AgentMain.VERSION,
    description = "The Berth agent: runs containers on this host and serves the Berth API.",
    footerHeading = "%nConfiguration file:%n",
    footer = {
        "  --config FILE reads these options from a YAML file (JSON if it ends in .json):",
        "  each key is a long option above without its dashes, with the value the option",
        "  takes; a repeatable option takes a list. For example:",
        "    data-dir: /var/lib/berth",
        "    node: web-1",
        "    cluster: prod",
        "    join: [10.0.0.1:7946, 10.0.0.2:7946]",
        "    server: true",
        "    tls-ca: /etc/berth/ca.pem",
        "    insecure-registry: [registry.lan:5000]",
        "  An option on the command line wins over the file; a list given there replaces",
        "  the file's whole list. Unknown keys and wrong values are refused at start as",
        "  FILE:LINE:COL: reason. An annotated example: deploy/berthd.yaml."})
public final class AgentMain implements Callable<Integer> {
  public static final String VERSION = "0.1.0";
  private static final Logger LOG = Logger.getLogger(AgentMain.class.getName());
  /** Held so that its level sticks (the log manager keeps loggers only weakly). */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.grpc.netty.shaded.io.netty.bootstrap");

  /** Read by {@link ConfigFile#expand} before this object is parsed; kept so that help lists it. */
  @Option(names = ConfigFile.OPTION, paramLabel = "FILE", description = "Read options from FILE (YAML or JSON), each "
      + "long option without its dashes as a key, e.g. \"data-dir: /var/lib/berth\"; options given here win (see the end).")
  Path config;

  @Option(names = "--data-dir", description = "Where the agent keeps its state (default: ${DEFAULT-VALUE}).")
  Path dataDir = Path.of("/var/lib/berth");

  @Option(names = "--socket", description = "Unix socket of the API, root only (default: ${DEFAULT-VALUE}).")
  Path socket = Path.of("/run/berth/berthd.sock");

  @Option(names = "--tcp", paramLabel = "HOST:PORT",
      description = "Also serve the API on TCP: mutual TLS with --tls-ca/--tls-cert/--tls-key (clients need a certificate "
          + "of the cluster CA), else plaintext with --tls-plaintext on a loopback address only (the API is root-equivalent).")
  String tcp;

  @Mixin
  TlsOptions tlsOptions = new TlsOptions();

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

  @Mixin
  EventOptions eventOptions = new EventOptions();

  @Option(names = {"-b", "--bridge"}, paramLabel = "NAME",
      description = "Bridge interface of the default network, created when missing (default: the prefix and 0, e.g. berth0); "
          + "\"none\": no default network, containers started without --network get loopback only.")
  String bridge = "";

  @Option(names = "--bridge-subnet", paramLabel = "CIDR",
      description = "Subnet of the default bridge network; refused when it overlaps a route of the host (default: ${DEFAULT-VALUE}).")
  String bridgeSubnet = NetworkStore.DEFAULT_SUBNET;

  @Option(names = "--metrics-addr", paramLabel = "HOST:PORT",
      description = "Serve Prometheus metrics at http://HOST:PORT/metrics; \"\" turns them off (default: ${DEFAULT-VALUE}, "
          + "loopback only; when that default port is taken the agent runs without metrics and says so).")
  String metricsAddr = MetricsServer.DEFAULT_ADDRESS;

  @Option(names = "--seal-key", paramLabel = "FILE",
      description = "On the servers only, the same file on each: the private key (PEM PKCS#8 X25519, made by "
          + "'openssl genpkey -algorithm X25519') that registry credentials kept in the cluster are sealed to; only "
          + "agents holding it open them, and hand them only to the node of an allocation that needs them. A plain "
          + "member must never have it. Default: none; an agent that is its cluster's only server makes its own under "
          + "the data dir (seal/seal-key.pem, root only).")
  Path sealKey;

  @Option(names = "--insecure-registry", paramLabel = "HOST[:PORT]",
      description = "A registry reached over plain HTTP; repeatable. Loopback registries always are.")
  List<String> insecureRegistries = new ArrayList<>();

  @Option(names = "--restart-backoff-base", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Delay before the first restart of a container by its restart policy, doubled for each further "
          + "one (default: 100ms, as Docker).")
  Duration restartBackoffBase = Backoff.Settings.DEFAULT.base();

  @Option(names = "--restart-backoff-cap", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "Longest delay between restarts (default: 1m, as Docker).")
  Duration restartBackoffCap = Backoff.Settings.DEFAULT.cap();

  @Option(names = "--restart-backoff-reset", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "A run this long resets the delay to its base (default: 10s, as Docker).")
  Duration restartBackoffReset = Backoff.Settings.DEFAULT.resetAfter();

  /** Go-style durations as Docker's flags take them: 100ms, 1.5s, 1m30s. */
  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return Durations.parse(value);
      } catch (BerthException e) {
        // picocli then prints the reason alone, not the exception's class.
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  /** A running agent; {@link #close()} stops serving and leaves containers running. */
  public static final class Agent implements AutoCloseable {
    private final List<Server> servers;
    private final ContainerRuntime runtime;
    private final List<AutoCloseable> parts;
    private final Supervisor supervisor;
    private final List<AutoCloseable> first = new ArrayList<>();

    Agent(List<Server> servers, ContainerRuntime runtime, Supervisor supervisor, AutoCloseable... parts) {
      this.servers = servers;
      this.runtime = runtime;
      this.supervisor = supervisor;
      this.parts = List.of(parts);
    }

    public ContainerRuntime runtime() {
      return runtime;
    }

    /** Parts that act on containers, closed before the runtime is (nulls ignored). */
    Agent closingFirst(AutoCloseable... parts) {
      for (AutoCloseable p : parts) {
        if (p != null) {
          first.add(p);
        }
      }
      return this;
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
      for (AutoCloseable part : first) {
        try {
          part.close();
        } catch (Exception e) {
          LOG.warning("closing " + part + ": " + e.getMessage());
        }
      }
      // First: nothing restarts a container while the runtime shuts down.
      supervisor.close();
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
    String[] all;
    try {
      // Before anything starts: a wrong file fails here, naming its line and column.
      all = ConfigFile.expand(() -> new CommandLine(new AgentMain()), args);
    } catch (ConfigFile.Invalid e) {
      System.err.println("berthd: " + e.getMessage());
      System.exit(CommandLine.ExitCode.USAGE);
      return;
    }
    int code = new CommandLine(new AgentMain()).execute(all);
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

  /** The descriptors that scrapes may keep open on containers' statistics files, sized by RLIMIT_NOFILE. */
  private static DescriptorBudget statisticsBudget() {
    DescriptorBudget budget = DescriptorBudget.ofProcessLimit();
    LOG.info("open files limit (RLIMIT_NOFILE) " + DescriptorBudget.processLimit() + ": scrapes keep up to " + budget.max()
        + " statistics files open (8 a container on cgroup v1, 6 on v2) and open any beyond at each scrape");
    return budget;
  }

  /** Builds and starts the agent as configured; the composition root. */
  public Agent start() throws IOException {
    String node = nodeName != null ? nodeName : InetAddress.getLocalHost().getHostName();
    // Checked before anything starts: a wrong certificate, or another node's, fails the start naming the file.
    TlsMaterial tls = tlsOptions.load(node, java.time.Instant.now()).orElse(null);
    Path lau = resolveLauncher();
    Files.createDirectories(dataDir);
    Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwx--x--x"));
    Syscalls syscalls = new LinuxSyscalls();
    Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
    ImageStore images = new ImageStore(dataDir.resolve("images"), syscalls, LayerLimits.DEFAULT);
    VolumeStore volumes = new VolumeStore(dataDir.resolve("volumes"));
    NetworkManager networks = networks(syscalls);
    // Before the runtime: its recovery already reports to the supervisor (containers a reboot stopped).
    Supervisor supervisor = new Supervisor(
        new Backoff.Settings(restartBackoffBase, restartBackoffCap, restartBackoffReset), java.time.Clock.systemUTC());
    // Before the runtime too: its recovery, and the supervisor's health checks, already report events.
    EventLog events = new EventLog(dataDir.resolve("events"), node, eventOptions.settings(), java.time.Clock.systemUTC());
    ContainerRecorder containerEvents = new ContainerRecorder(node, events);
    supervisor.addHealthListener(containerEvents);
    // Before the runtime: it closes the statistics files a scrape keeps open when a container exits or goes.
    ContainerSampler scrapeSampler = new ContainerSampler(cgroups, Path.of("/proc"), java.time.Clock.systemUTC(),
        statisticsBudget());
    ContainerRuntime runtime = new ContainerRuntime(
        new ContainerRuntime.Settings(dataDir, prefix, lau, logMaxSize, logMaxFile), syscalls, cgroups, images, volumes,
        networks, Listeners.all(ContainerEvents.class, supervisor, containerEvents, scrapeSampler.events()));
    supervisor.bind(runtime);
    // After the runtime adopted the running containers' endpoints, so their ports are in the first rules.
    networks.start();
    RegistryClient registries = new RegistryClient(java.util.Set.copyOf(insecureRegistries));
    ImageEvents imageEvents = new ImageEvents(node, events);
    Puller puller = new Puller(registries, images, imageEvents);
    Pusher pusher = new Pusher(registries, images);
    Path tmp = dataDir.resolve("tmp");
    deleteChildren(tmp);
    InetSocketAddress tcpAddress = tcp != null ? parseTcp(tcp, tls != null, tlsOptions.plaintext()) : null;
    // Built here so that a bad cluster flag fails the start; Atomix itself starts in the background below.
    ClusterConfig clusterConfig = clusterConfig(clusterOptions.toConfig(node, dataDir), tls, tlsOptions.plaintext());
    // Registered, so that the other agents can forward requests about this node's containers.
    clusterConfig = clusterConfig.withApiAddress(ClusterConfig.apiAddressOf(tcpAddress, clusterConfig.advertise()));
    // Here too: a seal key that is missing, unreadable or given to a plain member fails the start.
    SealKey seal = sealKey(clusterConfig);
    Cluster cluster = new Cluster(clusterConfig, new LocalFacts(node, runtime, images, volumes));
    // Node, job and allocation events: recorded by the scheduler's leader only, so once.
    ClusterRecorder clusterEvents = new ClusterRecorder(node, events);
    cluster.membership().addListener(clusterEvents);
    // Requests about other nodes' containers go to their agents: mutual TLS, plaintext only if this agent serves it.
    ContainerForwarder forwarder = new ContainerForwarder(node, cluster.nodes(), cluster.gossip(), cluster.membership(),
        AgentChannels.of(tls, tcpAddress != null && tlsOptions.plaintext()));
    ContainerCollector containerMetrics = new ContainerCollector(() -> RuntimeTargets.all(runtime), scrapeSampler, node,
        ContainerCollector.DEFAULT_TTL, System::nanoTime);
    AgentMetrics metrics = new AgentMetrics(node, containerMetrics, () -> RuntimeTargets.countByState(runtime),
        () -> membersByState(cluster));
    // Jobs: the scheduler's loop on the servers (one leads), every node running its own allocations.
    // Registry credentials: sealed in the replicated state, opened on the servers alone, handed
    // only for allocations the scheduler tagged (with a key that the seal key's holders alone derive).
    CredentialVault vault = new CredentialVault(cluster.store(), seal);
    JobStore jobStore = new JobStore(new TimedClusterStore(cluster.store(), metrics.registry()),
        new AllocationTags(vault));
    RegistryLogins registryLogins = new RegistryLogins(cluster.store(), vault);
    CredentialHandout handout = new CredentialHandout(jobStore, registryLogins, vault);
    SecretClient secrets = new SecretClient(node, cluster.nodes(),
        AgentChannels.of(tls, tcpAddress != null && tlsOptions.plaintext()), vault, handout);
    ClusterView clusterView = new ClusterView(cluster.nodes(), cluster.membership(), cluster.gossip(), jobStore);
    SchedulingLoop scheduling = clusterConfig.server()
        ? new SchedulingLoop(jobStore, clusterView, cluster.elections(), new Scheduler(), java.time.Clock.systemUTC(),
            SCHEDULER_RECONCILE,
            Listeners.all(SchedulingLoop.Listener.class, new SchedulerMetrics(metrics.registry()), clusterEvents))
        : null;
    AllocationRunner allocations = new AllocationRunner(node, jobStore, runtime, supervisor,
        (ref, allocation, creds) -> ensureImage(images, puller, registryLogins, secrets, ref, allocation, creds),
        cluster::isRegistered,
        java.time.Clock.systemUTC(), ALLOCATION_POLL);
    Jobs jobs = new Jobs(jobStore, clusterView, new Scheduler(), java.time.Clock.systemUTC(),
        scheduling != null ? scheduling::wake : () -> { });
    var services = metered(new GrpcMetricsInterceptor(metrics.registry()), List.of(
        ServerInterceptors.intercept(new ContainerGrpcService(runtime, supervisor, node, forwarder), new ErrorInterceptor(),
            new ForwardedCallInterceptor(node)),
        ServerInterceptors.intercept(new ImageGrpcService(images, runtime, tmp, puller, pusher, registries, imageEvents)
            .clusterLogins(registryLogins),
            new ErrorInterceptor()),
        ServerInterceptors.intercept(new VolumeGrpcService(volumes, runtime), new ErrorInterceptor()),
        ServerInterceptors.intercept(new NetworkGrpcService(networks, runtime), new ErrorInterceptor()),
        ServerInterceptors.intercept(
            SystemGrpcService.withLiveViews(runtime, images, cgroups, VERSION, node, dataDir, prefix, volumes).forwarding(forwarder),
            new ErrorInterceptor(), new ForwardedCallInterceptor(node)),
        ServerInterceptors.intercept(new ClusterGrpcService(cluster::status), new ErrorInterceptor()),
        ServerInterceptors.intercept(new NodeGrpcService(new NodeDirectory(cluster.nodes(), cluster.membership(), cluster.gossip())),
            new ErrorInterceptor()),
        ServerInterceptors.intercept(new JobGrpcService(jobs).credentials(secrets), new ErrorInterceptor()),
        ServerInterceptors.intercept(new SecretGrpcService(handout, vault), new ErrorInterceptor()),
        // Merges the other nodes' events, asked over the same channels as forwarded container requests.
        ServerInterceptors.intercept(new EventGrpcService(events, new EventPeers(node, cluster.nodes(), cluster.membership(),
            AgentChannels.of(tls, tcpAddress != null && tlsOptions.plaintext())), EventStream.forAgent(node)),
            new ErrorInterceptor(), new ForwardedCallInterceptor(node))));

    List<Server> servers = new ArrayList<>();
    EventLoopGroup boss = new EpollEventLoopGroup(1);
    EventLoopGroup workers = new EpollEventLoopGroup(2);
    Files.createDirectories(socket.toAbsolutePath().getParent());
    Files.deleteIfExists(socket);
    NettyServerBuilder unix = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
    services.forEach(unix::addService);
    // A call made as a node (one forwarded by another agent) must come with that node's
    // certificate: never on the socket.
    unix.intercept(new NodeIdentityInterceptor(false, NodeIdentityInterceptor.NODE, ContainerForwarder.FORWARDED_BY));
    servers.add(unix.build().start());
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    if (tcpAddress != null) {
      NettyServerBuilder t = NettyServerBuilder.forAddress(tcpAddress)
          .channelType(EpollServerSocketChannel.class).bossEventLoopGroup(boss).workerEventLoopGroup(workers);
      if (tls != null) {
        // Mutual TLS: a client without a certificate of the cluster CA fails the handshake, before any call.
        t.sslContext(tls.grpcServerContext());
      }
      services.forEach(t::addService);
      // With TLS the caller's node certificate must name the node it calls as; plaintext TCP
      // (--tls-plaintext) authenticates nothing, so there the claim is taken as it is.
      t.intercept(new NodeIdentityInterceptor(tls == null, NodeIdentityInterceptor.NODE, ContainerForwarder.FORWARDED_BY));
      servers.add(t.build().start());
    }
    MetricsServer metricsServer = serveMetrics(metrics);
    // Last: the local API already answers, and never waits for the cluster (Raft start-up takes seconds).
    cluster.start();
    AutoCloseable publisher = publishSealKey(cluster, vault);
    allocations.start();
    if (scheduling != null) {
      // A node judged down: its replicas are placed elsewhere at once, not at the next reconcile tick.
      cluster.membership().addListener(m -> {
        if (m.state() == dev.berth.agent.cluster.MemberState.DOWN) {
          scheduling.nodeDown(m.name());
        }
      });
      scheduling.start();
    }
    return new Agent(servers, runtime, supervisor, publisher, puller, pusher, registries, networks, forwarder, cluster,
        metricsServer != null ? metricsServer : () -> { }, metrics, events).closingFirst(scheduling, allocations);
  }

  /** How often the scheduler evaluates every job again when nothing triggered it. */
  static final Duration SCHEDULER_RECONCILE = Duration.ofSeconds(1);
  /** How often a node reads its allocations (one linearizable read). */
  static final Duration ALLOCATION_POLL = Duration.ofMillis(250);

  /**
   * Pulls {@code ref} unless present, with the job's credential for its registry if it has one,
   * else the cluster's ({@code berth login --cluster}), else anonymously. Both are kept sealed:
   * the password comes from a server ({@link SecretClient#forAllocation}) for this pull alone and
   * is held in memory only while it runs.
   */
  private static void ensureImage(ImageStore images, Puller puller, RegistryLogins logins, SecretClient secrets,
      String ref, String allocation, List<StoredCredential> creds) {
    if (images.find(ref).isPresent()) {
      return;
    }
    String registry = dev.berth.agent.image.Reference.parse(ref).domain();
    boolean has = CredentialHandout.matching(creds, registry).isPresent() || logins.get(registry).isPresent();
    puller.pull(ref, has ? secrets.forAllocation(allocation, registry) : null, dev.berth.agent.registry.PullListener.NONE);
  }

  /**
   * This agent's seal key: the --seal-key file on a server; made under the data dir on a cluster's
   * only server given none (no other server needs the same one); none on a plain member.
   */
  SealKey sealKey(ClusterConfig c) {
    if (sealKey != null) {
      if (!c.server()) {
        throw BerthException.invalid("--seal-key " + sealKey + " is for the servers: it opens every registry "
            + "password of the cluster, and a plain member must never hold it");
      }
      return SealKey.load(sealKey);
    }
    if (c.server() && c.servers().equals(List.of(c.node()))) {
      return SealKey.loadOrCreate(c.dataDir().resolve("seal").resolve("seal-key.pem"));
    }
    if (c.server()) {
      LOG.warning("this server has no seal key (--seal-key): it cannot open registry credentials, and a cluster whose "
          + "servers all lack one refuses to keep them");
    }
    return null;
  }

  /**
   * Publishes this server's public seal key once the cluster is ready, retrying while the store
   * does not answer, in the background (the local API never waits for the cluster). A key that is
   * not the cluster's is logged and leaves this server unable to open credentials.
   */
  private static AutoCloseable publishSealKey(Cluster cluster, CredentialVault vault) {
    Thread t = new Thread(() -> {
      try {
        while (!cluster.awaitReady(Duration.ofSeconds(1))) {
          if (cluster.status().phase() != dev.berth.agent.cluster.ClusterStatus.Phase.STARTING) {
            return;
          }
        }
        while (true) {
          try {
            vault.publish();
            return;
          } catch (BerthException e) {
            if (e.kind() != BerthException.Kind.UNAVAILABLE) {
              LOG.severe(e.getMessage());
              return;
            }
          }
          Thread.sleep(1000);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "berth-seal-key-publish");
    t.setDaemon(true);
    t.start();
    return t::interrupt;
  }

  /** Every service timed by the metrics interceptor, outermost so that it sees the status the error interceptor set. */
  private static List<io.grpc.ServerServiceDefinition> metered(GrpcMetricsInterceptor interceptor,
      List<io.grpc.ServerServiceDefinition> services) {
    return services.stream().map(s -> ServerInterceptors.intercept(s, interceptor)).toList();
  }

  private static java.util.Map<String, Long> membersByState(Cluster cluster) {
    java.util.Map<String, Long> counts = new java.util.HashMap<>();
    for (var m : cluster.membership().members()) {
      counts.merge(m.state().name().toLowerCase(java.util.Locale.ROOT), 1L, Long::sum);
    }
    return counts;
  }

  /**
   * Starts /metrics on --metrics-addr; null when it is off. A flag given explicitly must bind;
   * the default port taken (another agent on this host) leaves this one without metrics.
   */
  private MetricsServer serveMetrics(AgentMetrics metrics) throws IOException {
    InetSocketAddress addr = MetricsServer.parse(metricsAddr);
    if (addr == null) {
      return null;
    }
    try {
      MetricsServer server = MetricsServer.start(addr, metrics);
      LOG.info("metrics on http://" + metricsAddr + "/metrics");
      return server;
    } catch (java.net.BindException e) {
      if (!metricsAddr.equals(MetricsServer.DEFAULT_ADDRESS)) {
        throw BerthException.failedPrecondition("cannot serve metrics on " + metricsAddr + ": " + e.getMessage());
      }
      LOG.warning("no metrics: the default " + metricsAddr + " is taken (" + e.getMessage()
          + "); give --metrics-addr HOST:PORT, or \"\" to say no metrics");
      return null;
    }
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

  /**
   * The cluster configuration with its messaging over TLS when {@code tls} is given (key stores
   * written under the cluster's data dir). Without TLS, messaging beyond loopback is refused
   * unless {@code plaintext} asks for it: Raft over plaintext TCP lets anyone who can reach the
   * port write the cluster's state.
   */
  static ClusterConfig clusterConfig(ClusterConfig c, TlsMaterial tls, boolean plaintext) {
    if (tls != null) {
      TlsMaterial.KeyStores ks = tls.writeKeyStores(c.dataDir().resolve("tls"));
      return c.withTls(new MessagingTls(ks.keyStore(), ks.trustStore(), ks.password()));
    }
    List<Endpoint> beyond = new ArrayList<>();
    for (Endpoint e : concat(c.advertise(), c.join())) {
      if (!isLoopback(e.host())) {
        beyond.add(e);
      }
    }
    if (!beyond.isEmpty() && !plaintext) {
      throw BerthException.invalid("refusing plaintext cluster messaging (Raft) with " + beyond
          + ": give --tls-ca, --tls-cert and --tls-key (see 'berth cert'), or --tls-plaintext on a network you trust");
    }
    if (!plaintext) {
      if (!c.join().isEmpty() || !c.servers().equals(List.of(c.node()))) {
        throw BerthException.invalid("refusing plaintext cluster messaging (Raft) on " + c.advertise()
            + ": any local process could write the cluster's state; give --tls-ca, --tls-cert and --tls-key"
            + " (see 'berth cert'), or --tls-plaintext to accept that");
      }
      // A cluster of its own (the embedded default): its own certificate, made under the data dir.
      return c.withTls(SelfSignedTls.at(c.dataDir().resolve("tls").resolve("self")));
    }
    LOG.warning("the cluster's messaging is plaintext (--tls-plaintext): any process that reaches " + c.advertise()
        + " can read and write the cluster's state");
    return c;
  }

  private static List<Endpoint> concat(Endpoint first, List<Endpoint> rest) {
    List<Endpoint> all = new ArrayList<>(List.of(first));
    all.addAll(rest);
    return all;
  }

  private static boolean isLoopback(String host) {
    try {
      for (InetAddress a : InetAddress.getAllByName(host)) {
        if (!a.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /**
   * The --tcp address. With TLS any address; without, only a loopback one and only with
   * {@code --tls-plaintext}: the API is root-equivalent.
   */
  static InetSocketAddress parseTcp(String hostPort, boolean tls, boolean plaintext) {
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
    if (addr.isUnresolved()) {
      throw BerthException.invalid("invalid --tcp \"" + hostPort + "\": cannot resolve " + host);
    }
    if (tls) {
      return addr;
    }
    if (!addr.getAddress().isLoopbackAddress()) {
      throw BerthException.invalid("refusing to serve the API on " + hostPort
          + " without TLS: the API is root-equivalent; give --tls-ca, --tls-cert and --tls-key, or use a loopback address");
    }
    if (!plaintext) {
      throw BerthException.invalid("--tcp " + hostPort + " without TLS: give --tls-ca, --tls-cert and --tls-key, "
          + "or --tls-plaintext to serve plaintext on loopback");
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
