package dev.berth.agent.runtime;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.runtime.cgroup.CgroupLimits;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.net.Endpoint;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkRecord;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * The containers of this host: create, start, stop, kill, remove, attach, exec, logs, and
 * re-adoption of running containers after the agent restarts.
 *
 * <p>The runtime decides everything (rootfs mounts, cgroup limits, namespaces, the process,
 * its user, capabilities and seccomp profile) and writes it into a launcher config; the
 * native launcher carries it out in a fresh process and stays as the container's parent
 * (the shim). Containers are never children of the JVM, so they outlive the agent.
 *
 * <p>Threading: every public method is thread-safe. Operations on one container are
 * serialised by that container's lock; different containers proceed in parallel.
 *
 * <p>Failure: a create or start that fails halfway undoes what it did (mount, cgroup,
 * directory) before it throws.
 */
public final class ContainerRuntime implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ContainerRuntime.class.getName());
  private static final String STATE_FILE = "state.json";
  private static final String LOG_FILE = "container.log";
  private static final SecureRandom RANDOM = new SecureRandom();
  /** Every container keeps the default capabilities, so its seccomp rules are the same: built once. */
  private static final List<SeccompProfile.Rule> DEFAULT_SECCOMP = SeccompProfile.rules(ContainerDefaults.CAPABILITIES);
  private static final int EBUSY = 16;
  private static final int EINVAL = 22;
  /** Length of the short id, as Docker shows it; it also names the container's directory. */
  public static final int SHORT_ID = 12;
  /** sun_path holds 107 bytes; "/containers/" + short id + "/shim.sock" take 35 of them. */
  static final int MAX_DATA_DIR_LENGTH = 107 - 35;

  /** Settings of the runtime; defaults documented where they are defined. */
  public record Settings(
      Path dataDir,
      String prefix,
      Path launcher,
      long logMaxSizeBytes,
      int logMaxFiles) {
    /** Docker's json-file driver keeps logs forever; Berth caps them so a chatty container cannot fill the disk. */
    public static final long DEFAULT_LOG_MAX_SIZE = 10L << 20;
    /** The current file and two rotated ones. */
    public static final int DEFAULT_LOG_MAX_FILES = 3;
  }

  private final Settings settings;
  private final Syscalls syscalls;
  private final Cgroups cgroups;
  private final ImageStore images;
  private final VolumeStore volumes;
  private final ContainerNetworking net;
  private final Path containersDir;
  private final ObjectMapper json;
  private final ShimWatcher watcher;
  private final ExecutorService exits = Executors.newCachedThreadPool(DaemonThreads.named("berth-exit"));
  /** Health probes' timeouts. */
  private final ScheduledExecutorService timeouts = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-probe-timeout"));
  private final ContainerEvents events;
  private final Map<String, Container> containers = new ConcurrentHashMap<>();
  private final Object names = new Object();
  private volatile List<Path> shimCgroupDirs;

  /** A container's live record. */
  private static final class Container {
    final ContainerConfig config;
    final Path dir;
    volatile ContainerState state;
    /** Completed with the exit state when the current run ends; replaced on each start. */
    volatile CompletableFuture<ContainerState> exited;
    /** Where the current run sits on its bridge network; null when not running or on host/none. */
    volatile Endpoint endpoint;

    Container(ContainerConfig config, Path dir, ContainerState state) {
      this.config = config;
      this.dir = dir;
      this.state = state;
      this.exited = CompletableFuture.completedFuture(state);
    }
  }

  public ContainerRuntime(Settings settings, Syscalls syscalls, Cgroups cgroups, ImageStore images, VolumeStore volumes,
      NetworkManager networks) throws IOException {
    this(settings, syscalls, cgroups, images, volumes, networks, ContainerEvents.NONE);
  }

  /**
   * A runtime that tells {@code events} about its containers' runs, from the recovery in this
   * constructor on (see {@link ContainerEvents#adopted}).
   */
  public ContainerRuntime(Settings settings, Syscalls syscalls, Cgroups cgroups, ImageStore images, VolumeStore volumes,
      NetworkManager networks, ContainerEvents events) throws IOException {
    this.events = events;
    this.settings = settings;
    this.syscalls = syscalls;
    this.cgroups = cgroups;
    this.images = images;
    this.volumes = volumes;
    this.net = new ContainerNetworking(networks, Path.of("/etc/resolv.conf"));
    String data = settings.dataDir().toAbsolutePath().toString();
    if (data.length() > MAX_DATA_DIR_LENGTH) {
      throw BerthException.invalid("the data dir " + data + " is too long: at most " + MAX_DATA_DIR_LENGTH
          + " characters, so that the sockets of containers fit the kernel's limit");
    }
    this.containersDir = settings.dataDir().resolve("containers");
    Files.createDirectories(containersDir);
    this.json = new ObjectMapper()
        .registerModule(new JavaTimeModule())
        .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
        .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    this.watcher = new ShimWatcher();
    recover();
  }

  // ---------------------------------------------------------------- create

  /** Creates a container: decides its process and limits and lays out its directory. Nothing runs yet. */
  public ContainerView create(CreateRequest req) {
    if (req.image() == null || req.image().isBlank()) {
      throw BerthException.invalid("an image is required");
    }
    CgroupLimits limits = ResourceParser.limits(req.memory(), req.cpus(), req.pidsLimit());
    boolean seccomp = true;
    boolean noNewPrivs = true;
    for (String opt : req.securityOpt()) {
      switch (opt.replace(':', '=')) {
        case "seccomp=unconfined" -> seccomp = false;
        case "no-new-privileges", "no-new-privileges=true" -> noNewPrivs = true;
        case "no-new-privileges=false" -> noNewPrivs = false;
        default -> throw BerthException.invalid("invalid --security-opt \"" + opt
            + "\": accepted are seccomp=unconfined and no-new-privileges[=true|false]");
      }
    }
    long logMax = req.logMaxSize() == null || req.logMaxSize().isBlank()
        ? settings.logMaxSizeBytes() : logSize(req.logMaxSize());
    int logFiles = req.logMaxFile() > 0 ? req.logMaxFile() : settings.logMaxFiles();
    ImageRecord image = images.get(req.image());
    var ic = image.config();

    List<String> args = new ArrayList<>();
    if (req.entrypointSet()) {
      args.addAll(req.entrypoint());
      args.addAll(req.cmd());
    } else {
      args.addAll(ic.entrypoint() == null ? List.of() : ic.entrypoint());
      args.addAll(!req.cmd().isEmpty() ? req.cmd() : ic.cmd() == null ? List.of() : ic.cmd());
    }
    if (args.isEmpty()) {
      throw BerthException.invalid("no command specified: the image " + req.image() + " has none; give one after the image name");
    }
    String id = newId();
    String hostname = req.hostname().isBlank() ? id.substring(0, 12) : validHostname(req.hostname());
    List<String> env = mergeEnv(ic.env() == null ? List.of() : ic.env(), req.env(), hostname, req.tty());
    String workdir = !req.workingDir().isBlank() ? req.workingDir()
        : ic.workingDir() == null || ic.workingDir().isBlank() ? "/" : ic.workingDir();
    if (!workdir.startsWith("/")) {
      throw BerthException.invalid("invalid working directory \"" + workdir + "\": it must be an absolute path");
    }
    String user = !req.user().isBlank() ? req.user() : ic.user() == null ? "" : ic.user();
    int stopSignal = Signals.parse(!req.stopSignal().isBlank() ? req.stopSignal() : ic.stopSignal(), Signals.SIGTERM);
    int stopTimeout = req.stopTimeout() > 0 ? req.stopTimeout() : ContainerDefaults.STOP_TIMEOUT_SECONDS;
    List<String> lowers = images.layerDirs(image).stream().map(Path::toString).toList();
    Map<String, String> labels = new LinkedHashMap<>(ic.labels() == null ? Map.of() : ic.labels());
    labels.putAll(req.labels());
    ContainerNetworking.Decision network = net.decide(req, ic.exposedPorts());
    // The user's health check over the image's, field by field, as Docker merges them.
    Healthcheck healthcheck = req.healthcheck() == null ? ic.healthcheck() : req.healthcheck().over(ic.healthcheck());
    List<MountSpec> mounts = resolveMounts(req.mounts(), ic.volumes() == null ? List.of() : ic.volumes());

    // The short id names the directory: the shim's socket path in it must fit a sockaddr_un.
    Path dir = containersDir.resolve(id.substring(0, SHORT_ID));
    Container c;
    try {
      c = register(req, id, image, args, hostname, env, workdir, user, limits, seccomp, noNewPrivs, stopSignal,
          stopTimeout, logMax, logFiles, lowers, labels, mounts, network, healthcheck, dir);
    } catch (RuntimeException e) {
      net.manager().releasePorts(id);
      removeAnonymousVolumes(mounts);
      throw e;
    }
    synchronized (c) {
      // Under the lock, so that a start racing with this return comes after it.
      ContainerView created = view(c);
      events.created(created);
      return created;
    }
  }

  @SuppressWarnings("checkstyle:ParameterNumber")
  private Container register(CreateRequest req, String id, ImageRecord image, List<String> args, String hostname,
      List<String> env, String workdir, String user, CgroupLimits limits, boolean seccomp, boolean noNewPrivs,
      int stopSignal, int stopTimeout, long logMax, int logFiles, List<String> lowers, Map<String, String> labels,
      List<MountSpec> mounts, ContainerNetworking.Decision network, Healthcheck healthcheck, Path dir) {
    Container c;
    synchronized (names) {
      String name = req.name().isBlank() ? generateName() : validName(req.name());
      for (Container other : containers.values()) {
        if (other.config.name().equals(name)) {
          throw BerthException.alreadyExists("Conflict. The container name \"/" + name
              + "\" is already in use by container \"" + other.config.id() + "\". Remove or rename that container to reuse the name.");
        }
      }
      ContainerConfig config = new ContainerConfig(id, name, req.image(), image.id(), lowers, args, env, workdir, user,
          hostname, limits.memoryBytes(), limits.cpuQuotaMicros(), limits.cpuPeriodMicros(), limits.pidsMax(), seccomp,
          noNewPrivs, stopSignal, stopTimeout, logMax, logFiles, Instant.now(), req, labels, mounts,
          network.network().id(), network.network().name(),
          // Reserved only once the name is known to be free, so a refused create holds no port.
          net.manager().reservePorts(id, name, network.ports()), healthcheck);
      c = new Container(config, dir, ContainerState.CREATED);
      try {
        Files.createDirectories(dir.resolve("rootfs"));
        Files.createDirectories(dir.resolve("upper"));
        Files.createDirectories(dir.resolve("work"));
        persist(c);
      } catch (IOException | UncheckedIOException e) {
        deleteTree(dir);
        throw BerthException.internal("cannot create the directory of container " + id + ": " + e.getMessage(), e);
      }
      containers.put(id, c);
    }
    return c;
  }

  /**
   * Checks the requested mounts and gives each volume a name: named ones are created when
   * missing (as docker run does), anonymous ones created here, and every VOLUME of the image
   * not covered by a requested mount gets an anonymous volume.
   */
  private List<MountSpec> resolveMounts(List<MountSpec> requested, List<String> imageVolumes) {
    List<MountSpec> out = new ArrayList<>();
    java.util.Set<String> targets = new java.util.HashSet<>();
    try {
      for (MountSpec m : requested) {
        String target = cleanTarget(m.target());
        if (!targets.add(target)) {
          throw BerthException.invalid("duplicate mount point: " + target);
        }
        MountSpec t = m.withTarget(target);
        switch (m.type()) {
          case BIND -> {
            if (!m.source().startsWith("/")) {
              throw BerthException.invalid("invalid bind mount source \"" + m.source() + "\": it must be an absolute host path");
            }
            if (!Files.exists(Path.of(m.source()))) {
              if (!m.createHostPath()) {
                throw BerthException.invalid("invalid mount config: bind source path does not exist: " + m.source());
              }
              // -v creates what is missing, as docker run -v does; --mount does not.
              try {
                Files.createDirectories(Path.of(m.source()));
              } catch (IOException e) {
                throw BerthException.invalid("cannot create the bind source " + m.source() + ": " + e.getMessage());
              }
            }
            out.add(t);
          }
          case VOLUME -> out.add(t.withSource(volumes.create(m.source(), Map.of(), m.source().isBlank()).name()));
          case TMPFS -> {
            if (m.tmpfsSizeBytes() < 0) {
              throw BerthException.invalid("invalid tmpfs size for " + target + ": it cannot be negative");
            }
            out.add(t);
          }
        }
      }
      for (String v : imageVolumes) {
        String target = cleanTarget(v);
        if (targets.add(target)) {
          out.add(new MountSpec(MountSpec.Type.VOLUME, volumes.create("", Map.of(), true).name(), target, false, 0, 0,
              false, false));
        }
      }
    } catch (RuntimeException e) {
      removeAnonymousVolumes(out);
      throw e;
    }
    return out;
  }

  private static String cleanTarget(String target) {
    if (target == null || !target.startsWith("/")) {
      throw BerthException.invalid("invalid mount target \"" + target + "\": it must be an absolute path");
    }
    String clean = Path.of(target).normalize().toString();
    if (clean.equals("/")) {
      throw BerthException.invalid("invalid mount target \"/\": the root of a container cannot be mounted over");
    }
    return clean;
  }

  private void removeAnonymousVolumes(List<MountSpec> mounts) {
    for (MountSpec m : mounts) {
      if (m.type() == MountSpec.Type.VOLUME && volumes.find(m.source()).map(VolumeStore.Volume::anonymous).orElse(false)) {
        try {
          volumes.remove(m.source(), true, this::volumeInUse);
        } catch (BerthException e) {
          LOG.fine("anonymous volume " + m.source() + " stays: " + e.getMessage());
        }
      }
    }
  }

  /** True when a container (running or not) mounts the volume. */
  public boolean volumeInUse(String name) {
    return containers.values().stream().anyMatch(c -> c.config.mounts().stream()
        .anyMatch(m -> m.type() == MountSpec.Type.VOLUME && m.source().equals(name)));
  }

  /** The ids of the containers that mount the volume. */
  public List<String> volumeUsers(String name) {
    return containers.values().stream().filter(c -> c.config.mounts().stream()
        .anyMatch(m -> m.type() == MountSpec.Type.VOLUME && m.source().equals(name))).map(c -> c.config.id()).toList();
  }

  private static long logSize(String text) {
    try {
      return ResourceParser.memory(text);
    } catch (BerthException e) {
      throw BerthException.invalid("invalid log max-size \"" + text + "\": expected a size such as 10m (at least 6m)");
    }
  }

  private static String validName(String name) {
    String n = name.startsWith("/") ? name.substring(1) : name;
    if (!n.matches("[a-zA-Z0-9][a-zA-Z0-9_.-]*") || n.length() > 128) {
      throw BerthException.invalid("Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    return n;
  }

  private static String validHostname(String h) {
    if (!h.matches("[a-zA-Z0-9]([a-zA-Z0-9.-]{0,62})")) {
      throw BerthException.invalid("invalid hostname \"" + h + "\": letters, digits, '-' and '.', at most 63 characters");
    }
    return h;
  }

  private static List<String> mergeEnv(List<String> image, List<String> user, String hostname, boolean tty) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", ContainerDefaults.PATH.substring(5));
    env.put("HOSTNAME", hostname);
    for (List<String> src : List.of(image, user)) {
      for (String kv : src) {
        int eq = kv.indexOf('=');
        if (eq <= 0) {
          throw BerthException.invalid("invalid environment variable \"" + kv + "\": expected KEY=VALUE");
        }
        env.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    if (tty) {
      env.putIfAbsent("TERM", "xterm");
    }
    List<String> out = new ArrayList<>();
    env.forEach((k, v) -> out.add(k + "=" + v));
    return out;
  }

  private String newId() {
    while (true) {
      byte[] b = new byte[32];
      RANDOM.nextBytes(b);
      String id = HexFormat.of().formatHex(b);
      String shortId = id.substring(0, SHORT_ID);
      // A short id that reads as a number confuses users and prefix lookups, as Docker found;
      // and the short id must be unique, since it names the container's directory.
      if (!shortId.chars().allMatch(Character::isDigit) && !Files.exists(containersDir.resolve(shortId))) {
        return id;
      }
    }
  }

  private String generateName() {
    String[] left = {"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nifty", "proud", "quiet", "sharp", "swift", "tender", "vivid", "witty", "zen", "bold"};
    String[] right = {"anchor", "bay", "buoy", "cove", "dock", "ferry", "harbor", "hull", "keel", "mast",
        "pier", "quay", "reef", "sail", "skiff", "tide", "wharf", "yawl", "helm", "berth"};
    for (int i = 0; ; i++) {
      String n = left[RANDOM.nextInt(left.length)] + "_" + right[RANDOM.nextInt(right.length)]
          + (i > 10 ? String.valueOf(RANDOM.nextInt(1000)) : "");
      if (containers.values().stream().noneMatch(c -> c.config.name().equals(n))) {
        return n;
      }
    }
  }

  // ---------------------------------------------------------------- start

  /**
   * Starts a container and returns once its entrypoint runs; a container already running is
   * left alone. A start by the user: its restart count is reset and a pending restart is off.
   */
  public ContainerView start(String ref) {
    Container c = lookup(ref);
    synchronized (c) {
      if (!c.state.running()) {
        c.state = c.state.userStart();
        launch(c, false);
        events.started(view(c), ContainerEvents.Start.USER);
      }
    }
    return view(c);
  }

  /**
   * Starts a container again by its restart policy, counting the restart, unless anything
   * happened to it since the policy decided on {@code decidedOn} (the user started, stopped or
   * removed it; it runs already).
   *
   * @return the running container; empty when nothing was done
   * @throws StartFailed when the container could not be started (its exit is recorded)
   * @throws BerthException NOT_FOUND when it is gone; others when the start failed otherwise
   */
  public Optional<ContainerView> restart(String id, ContainerState decidedOn) {
    Container c = containers.get(id);
    if (c == null) {
      throw BerthException.notFound("No such container: " + id);
    }
    synchronized (c) {
      if (!c.state.equals(decidedOn) || c.state.running() || !containers.containsKey(id)) {
        return Optional.empty();
      }
      c.state = c.state.policyRestart();
      persist(c);
      launch(c, false);
      ContainerView v = view(c);
      events.started(v, ContainerEvents.Start.POLICY);
      return Optional.of(v);
    }
  }

  /**
   * Attaches to a container's stdio and, with {@code start}, starts it once the attachment
   * is in place so that no output is missed. The returned session streams until it exits.
   */
  public IoSession attach(String ref, boolean stdin, boolean start, int rows, int cols, IoSession.Sink sink) {
    Container c = lookup(ref);
    IoSession session;
    boolean starting;
    synchronized (c) {
      starting = start && !c.state.running();
      if (starting) {
        c.state = c.state.userStart();
        try {
          launch(c, true);
        } catch (StartFailed f) {
          if (f.exitCode == 125) {
            throw f;
          }
          // The command is missing or not executable: report it as the run's outcome, as Docker does.
          return IoSession.failed(sink, f.exitCode, f.reason);
        }
      } else if (!c.state.running()) {
        throw BerthException.failedPrecondition("You cannot attach to a stopped container, start it first: " + c.config.name());
      }
      CompletableFuture<ContainerState> exited = c.exited;
      ShimConnection conn = null;
      try {
        conn = ShimConnection.open(c.dir.resolve("shim.sock"));
        conn.attach(stdin);
        if (rows > 0 && cols > 0) {
          conn.resize(rows, cols);
        }
        session = new IoSession(conn, sink, "berth-attach-" + c.config.id().substring(0, 12),
            (code, failure) -> exitStatus(exited, code, failure));
        session.start();
        if (starting) {
          events.started(view(c), ContainerEvents.Start.USER);
          session.send(ShimConnection.START);
        }
      } catch (IOException e) {
        if (conn != null) {
          conn.close();
        }
        if (starting) {
          killQuietly(c, Signals.SIGKILL);
        }
        throw new BerthException(BerthException.Kind.UNAVAILABLE,
            "cannot attach to container " + c.config.name() + ": " + e.getMessage(), e);
      }
    }
    return session;
  }

  private static IoSession.ExitStatus exitStatus(CompletableFuture<ContainerState> exited, Integer code, String failure) {
    try {
      ContainerState s = exited.get(30, TimeUnit.SECONDS);
      String err = failure != null ? failure : s.error();
      return new IoSession.ExitStatus(s.exitCode(), s.oomKilled(), s.exitUnknown(), err);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new IoSession.ExitStatus(code == null ? -1 : code, false, code == null, failure);
    } catch (ExecutionException | TimeoutException e) {
      return new IoSession.ExitStatus(code == null ? -1 : code, false, code == null, failure);
    }
  }

  /** Mounts, creates cgroups, spawns the launcher. Caller holds the container's lock. */
  private void launch(Container c, boolean waitStart) {
    ContainerConfig cfg = c.config;
    Path rootfs = c.dir.resolve("rootfs");
    String cgroup = cgroupPath(cfg.id());
    try {
      Files.deleteIfExists(c.dir.resolve("exit.json"));
      Files.deleteIfExists(c.dir.resolve("shim.pid"));
      c.endpoint = net.connect(cfg, c.dir, this::dirOf).orElse(null);
      mountRootfs(c, rootfs);
      seedVolumes(cfg, rootfs);
      List<Path> cgroupDirs = cgroups.create(cgroup,
          new CgroupLimits(cfg.memoryBytes(), cfg.cpuQuotaMicros(), cfg.cpuPeriodMicros(), cfg.pidsLimit()),
          ContainerDefaults.DEVICE_RULES);
      List<Path> shimDirs = shimCgroup();
      Path conf = c.dir.resolve("launch.conf");
      AtomicFiles.write(conf, launcherConfig(c, rootfs, cgroupDirs, shimDirs, waitStart).bytes());
      c.exited = new CompletableFuture<>();
      int[] pids = spawn(conf, cfg);
      c.state = c.state.running(pids[1], pids[0], Instant.now());
      persist(c);
      watch(c);
    } catch (LaunchFailure f) {
      cleanupRun(c);
      c.state = new ContainerState(ContainerState.Status.EXITED, 0, 0, f.code, false, false, f.getMessage(), null,
          Instant.now(), c.state.restartCount(), c.state.stoppedByUser());
      persist(c);
      c.exited.complete(c.state);
      throw new StartFailed(f.code, "cannot start container " + cfg.name() + ": " + f.getMessage(), f.getMessage());
    } catch (IOException | RuntimeException e) {
      cleanupRun(c);
      if (e instanceof BerthException be) {
        throw be;
      }
      throw BerthException.internal("cannot start container " + cfg.name() + ": " + e.getMessage(), e);
    }
  }

  /** A start that failed; {@code exitCode} is Docker's: 125 (Berth), 126 (not executable), 127 (not found). */
  public static final class StartFailed extends BerthException {
    private static final long serialVersionUID = 1L;
    public final int exitCode;
    final String reason;

    StartFailed(int exitCode, String message, String reason) {
      super(Kind.FAILED_PRECONDITION, message);
      this.exitCode = exitCode;
      this.reason = reason;
    }
  }

  private static final class LaunchFailure extends Exception {
    private static final long serialVersionUID = 1L;
    final int code;

    LaunchFailure(int code, String message) {
      super(message);
      this.code = code;
    }
  }

  private int[] spawn(Path conf, ContainerConfig cfg) throws IOException, LaunchFailure {
    ProcessBuilder pb = new ProcessBuilder(settings.launcher().toString(), "run", conf.toString())
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .redirectErrorStream(true);
    Process p = pb.start();
    String line;
    StringBuilder rest = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      line = r.readLine();
      String more;
      while ((more = r.readLine()) != null) {
        rest.append(more).append('\n');
      }
    }
    try {
      p.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (line != null && line.startsWith("ok ")) {
      String[] f = line.split(" ");
      return new int[] {Integer.parseInt(f[1]), Integer.parseInt(f[2])};
    }
    if (line != null && line.startsWith("failed ")) {
      String[] f = line.split(" ", 3);
      throw new LaunchFailure(Integer.parseInt(f[1]), f.length > 2 ? f[2] : "start failed");
    }
    throw new LaunchFailure(125, "the launcher " + settings.launcher() + " failed: "
        + (line == null ? "" : line) + " " + rest.toString().trim());
  }

  private LauncherConfig launcherConfig(Container c, Path rootfs, List<Path> cgroupDirs, List<Path> shimDirs, boolean waitStart) {
    ContainerConfig cfg = c.config;
    LauncherConfig l = new LauncherConfig()
        .add("id", cfg.id())
        .add("state_dir", c.dir.toString())
        .add("rootfs", rootfs.toString());
    for (String ns : List.of("pid", "mount", "uts", "ipc", "cgroup")) {
      l.add("namespace", ns);
    }
    if (c.endpoint != null) {
      // A bridge network: the namespace was made and wired before the launch.
      l.add("netns", c.endpoint.netns());
    } else if (!cfg.network().equals(NetworkRecord.HOST_NETWORK)) {
      // none: a namespace of its own with nothing but loopback; host: the host's, as docker run --network host.
      l.add("namespace", "net");
    }
    l.add("hostname", cfg.hostname());
    cgroupDirs.forEach(d -> l.add("cgroup", d.toString()));
    shimDirs.forEach(d -> l.add("shim_cgroup", d.toString()));
    ContainerDefaults.mounts(l);
    // Parents before children, so a mount inside another volume lands on it, not under it.
    List<MountSpec> user = new ArrayList<>(cfg.mounts());
    user.sort(Comparator.comparingInt(m -> Path.of(m.target()).getNameCount()));
    for (MountSpec m : user) {
      String ro = m.readOnly() ? ",ro" : "";
      switch (m.type()) {
        case VOLUME -> l.mount(volumes.get(m.source()).mountpoint().toString(), Path.of(m.target()), "none", "rbind" + ro, "");
        case BIND -> l.mount(m.source(), Path.of(m.target()), "none", "rbind" + ro, "");
        case TMPFS -> l.mount("tmpfs", Path.of(m.target()), "tmpfs", "nosuid,nodev" + ro,
            "mode=" + Integer.toOctalString(m.tmpfsMode() > 0 ? m.tmpfsMode() : 01777)
                + (m.tmpfsSizeBytes() > 0 ? ",size=" + m.tmpfsSizeBytes() : ""));
      }
    }
    l.mount(c.dir.resolve("hostname").toString(), Path.of("/etc/hostname"), "none", "bind", "");
    l.mount(c.dir.resolve("hosts").toString(), Path.of("/etc/hosts"), "none", "bind", "");
    l.mount(c.dir.resolve("resolv.conf").toString(), Path.of("/etc/resolv.conf"), "none", "bind", "");
    ContainerDefaults.MASKED_PATHS.forEach(p -> l.add("mask", p));
    ContainerDefaults.READONLY_PATHS.forEach(p -> l.add("readonly", p));
    l.add("cwd", cfg.workingDir());
    if (!cfg.user().isBlank()) {
      l.add("user", cfg.user());
    }
    l.addAll("env", cfg.env());
    l.addAll("arg", cfg.args());
    CreateRequest req = cfg.request();
    l.flag("tty", req.tty()).flag("stdin", req.openStdin()).flag("wait_start", waitStart);
    ContainerDefaults.CAPABILITIES.stream().sorted().forEach(cap -> l.add("cap", cap));
    l.flag("no_new_privs", cfg.noNewPrivileges());
    if (cfg.seccomp()) {
      l.add("seccomp_default", "errno", SeccompProfile.DEFAULT_ERRNO);
      for (SeccompProfile.Rule r : DEFAULT_SECCOMP) {
        List<Object> fields = new ArrayList<>();
        fields.add(r.action());
        fields.add(r.syscall());
        fields.addAll(r.conditions());
        l.add("seccomp", fields.toArray());
      }
    }
    l.add("log_max_size", cfg.logMaxSize()).add("log_max_files", cfg.logMaxFiles());
    return l;
  }

  /** Fills each empty volume with the image's files at its mount point, unless asked not to. */
  private void seedVolumes(ContainerConfig cfg, Path rootfs) throws IOException {
    VolumeSeeder seeder = new VolumeSeeder(syscalls);
    for (MountSpec m : cfg.mounts()) {
      if (m.type() == MountSpec.Type.VOLUME && !m.noCopy()) {
        seeder.seed(rootfs, m.target(), volumes.get(m.source()).mountpoint());
      }
    }
  }

  private void mountRootfs(Container c, Path rootfs) {
    List<String> lowers = new ArrayList<>(c.config.lowerDirs());
    java.util.Collections.reverse(lowers); // overlayfs lists the top layer first
    for (String lower : lowers) {
      if (!Files.isDirectory(Path.of(lower))) {
        throw BerthException.failedPrecondition("the image layer " + lower + " of container " + c.config.name()
            + " is missing: its image was removed; remove the container");
      }
    }
    String data = "lowerdir=" + String.join(":", lowers) + ",upperdir=" + c.dir.resolve("upper")
        + ",workdir=" + c.dir.resolve("work");
    syscalls.mount("overlay", rootfs, "overlay", 0, data);
  }

  /** The cgroup every shim of this agent lives in, created on the first start only. */
  private List<Path> shimCgroup() {
    List<Path> dirs = shimCgroupDirs;
    if (dirs == null) {
      dirs = cgroups.create(settings.prefix() + "/shims", CgroupLimits.NONE);
      shimCgroupDirs = dirs;
    }
    return dirs;
  }

  private String cgroupPath(String id) {
    return settings.prefix() + "/" + id;
  }

  /** Undoes what a run set up: the network, the rootfs mount and the cgroup. Idempotent. */
  private void cleanupRun(Container c) {
    try {
      net.disconnect(c.dir, this::dirOf);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "cannot take container " + c.config.id() + " off its network", e);
    }
    c.endpoint = null;
    Path rootfs = c.dir.resolve("rootfs");
    try {
      syscalls.umount(rootfs, 0);
    } catch (SyscallException e) {
      if (e.errno() == EBUSY) {
        // A process still holds it: detach, so it goes away with its last user.
        syscalls.umount(rootfs, Syscalls.MNT_DETACH);
      } else if (e.errno() != EINVAL) {
        throw e;
      } // EINVAL: not mounted (never started, or already cleaned up)
    }
    try {
      cgroups.destroy(cgroupPath(c.config.id()));
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "cannot remove the cgroup of " + c.config.id(), e);
    }
  }

  // ---------------------------------------------------------------- exit

  private void watch(Container c) {
    try {
      watcher.watch(c.dir.resolve("shim.sock"), () -> exits.execute(() -> onExit(c, false)));
    } catch (IOException e) {
      // The shim is gone already (a very short-lived container): record the exit now.
      exits.execute(() -> onExit(c, false));
    }
  }

  /**
   * Records how a run ended, from the shim's exit file, and releases its mount and cgroup;
   * then tells {@link #events}: as an exit, or with {@code atStart} (found ended when the agent
   * started) as an adoption.
   */
  private void onExit(Container c, boolean atStart) {
    synchronized (c) {
      if (!c.state.running()) {
        return;
      }
      ContainerState s = c.state;
      Path exitFile = c.dir.resolve("exit.json");
      awaitExitFile(exitFile, s.shimPid());
      try {
        if (Files.exists(exitFile)) {
          JsonNode e = json.readTree(exitFile.toFile());
          int code = e.path("exit_code").asInt();
          int signal = e.path("signal").asInt();
          long t = e.path("finished_at_unix_nanos").asLong();
          boolean oom = signal == Signals.SIGKILL && oomKilled(c);
          Instant at = t > 0 ? Instant.ofEpochSecond(0, t) : Instant.now();
          s = s.exited(code, oom, false, e.path("error").asText(""), at);
        } else {
          // The shim died without recording the exit (say, OOM-killed itself): never invent one.
          s = s.exited(-1, false, true, "the container's launcher died; its exit status is unknown", Instant.now());
        }
      } catch (IOException e) {
        s = s.exited(-1, false, true, "unreadable exit file: " + e.getMessage(), Instant.now());
      }
      cleanupRun(c);
      c.state = s;
      persist(c);
      c.exited.complete(s);
      if (atStart) {
        events.adopted(view(c));
        events.endedWhileAway(view(c));
      } else {
        events.exited(view(c));
      }
    }
    if (c.config.request().autoRemove()) {
      try {
        remove(c.config.id(), true);
      } catch (BerthException e) {
        LOG.log(Level.FINE, "auto-remove of " + c.config.id() + ": " + e.getMessage());
      }
    }
  }

  /**
   * The shim writes exit.json before it reports the exit, so it is there when the report is;
   * when the watch connection merely broke, give a shim that is still finishing a moment.
   */
  private static void awaitExitFile(Path exitFile, int shimPid) {
    for (int i = 0; i < 100 && !Files.exists(exitFile) && shimPid > 0 && Files.exists(Path.of("/proc", String.valueOf(shimPid))); i++) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private boolean oomKilled(Container c) {
    try {
      return cgroups.stats(cgroupPath(c.config.id())).oomKills() > 0;
    } catch (RuntimeException e) {
      return false;
    }
  }

  // ---------------------------------------------------------------- stop, kill, remove

  /**
   * Sends the stop signal, waits up to the timeout (null: the container's), then SIGKILL. The
   * container counts as stopped by the user: its restart policy does not restart it (nor, for
   * unless-stopped, does the next agent start), and a pending restart is off.
   */
  public ContainerView stop(String ref, Integer timeoutSeconds) {
    Container c = lookup(ref);
    CompletableFuture<ContainerState> exited;
    boolean running;
    synchronized (c) {
      markStoppedByUser(c);
      exited = c.exited;
      running = c.state.running();
    }
    events.stopping(c.config.id());
    if (!running) {
      return view(c);
    }
    int timeout = timeoutSeconds != null && timeoutSeconds >= 0 ? timeoutSeconds : c.config.stopTimeoutSeconds();
    if (timeout > 0) {
      killQuietly(c, c.config.stopSignal());
      if (awaitExit(exited, timeout * 1000L)) {
        return view(c);
      }
    }
    killQuietly(c, Signals.SIGKILL);
    if (!awaitExit(exited, 15_000)) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "container " + c.config.name() + " did not exit after SIGKILL");
    }
    return view(c);
  }

  /** Sends a signal to the container's init. */
  public ContainerView kill(String ref, String signal) {
    Container c = lookup(ref);
    int sig = Signals.parse(signal, Signals.SIGKILL);
    if (!c.state.running()) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
    if (sig == Signals.SIGKILL) {
      // kill -9 is a stop; another signal may be meant for the process (a reload): the policy
      // decides about any exit it causes.
      synchronized (c) {
        markStoppedByUser(c);
      }
      events.stopping(c.config.id());
    }
    try (ShimConnection conn = ShimConnection.open(c.dir.resolve("shim.sock"))) {
      conn.send(ShimConnection.WATCH);
      conn.kill(sig);
    } catch (IOException e) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
    if (sig == Signals.SIGKILL) {
      awaitExit(c.exited, 5_000);
    }
    return view(c);
  }

  /** Caller holds the container's lock. */
  private void markStoppedByUser(Container c) {
    if (!c.state.stoppedByUser() && containers.containsKey(c.config.id())) {
      c.state = c.state.stoppedByUser(true);
      persist(c);
    }
  }

  private void killQuietly(Container c, int signal) {
    try (ShimConnection conn = ShimConnection.open(c.dir.resolve("shim.sock"))) {
      conn.send(ShimConnection.WATCH);
      conn.kill(signal);
    } catch (IOException e) {
      LOG.fine("signal " + signal + " to " + c.config.id() + ": " + e.getMessage());
    }
  }

  private static boolean awaitExit(CompletableFuture<ContainerState> f, long millis) {
    try {
      f.get(millis, TimeUnit.MILLISECONDS);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (ExecutionException | TimeoutException e) {
      return false;
    }
  }

  /** Removes a container; a running one only with {@code force} (it is killed first). */
  public String remove(String ref, boolean force) {
    return remove(ref, force, false);
  }

  /** Removes a container; with {@code anonymousVolumes} also the anonymous volumes it mounted (rm -v). */
  public String remove(String ref, boolean force, boolean anonymousVolumes) {
    Container c = lookup(ref);
    if (c.state.running() && !force) {
      throw BerthException.failedPrecondition("You cannot remove a running container " + c.config.id()
          + ". Stop the container before attempting removal or force remove");
    }
    synchronized (c) {
      // Changes the state, so a restart its policy decided on earlier does nothing.
      markStoppedByUser(c);
    }
    events.stopping(c.config.id());
    // A restart already under way when the user asked wins the race for the lock: kill it again.
    for (int attempt = 0; ; attempt++) {
      if (c.state.running()) {
        killQuietly(c, Signals.SIGKILL);
        if (!awaitExit(c.exited, 15_000)) {
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "container " + c.config.name() + " did not exit after SIGKILL");
        }
      }
      synchronized (c) {
        if (!c.state.running() || attempt >= 3) {
          break;
        }
      }
    }
    synchronized (c) {
      if (!containers.containsKey(c.config.id())) {
        return c.config.id();
      }
      c.state = c.state.removing();
      cleanupRun(c);
      try (Stream<String> mounts = Mounts.under(c.dir)) {
        for (String m : (Iterable<String>) mounts.sorted(Comparator.reverseOrder())::iterator) {
          syscalls.umount(Path.of(m), Syscalls.MNT_DETACH);
        }
      }
      containers.remove(c.config.id());
      net.manager().releasePorts(c.config.id());
      deleteTree(c.dir);
    }
    events.removed(c.config.id());
    if (anonymousVolumes) {
      removeAnonymousVolumes(c.config.mounts());
    }
    return c.config.id();
  }

  // ---------------------------------------------------------------- exec

  /** Runs a process inside a running container, streaming its output to {@code sink}. */
  public IoSession exec(String ref, ExecRequest req, IoSession.Sink sink) {
    Container c = lookup(ref);
    if (!c.state.running()) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
    if (req.cmd().isEmpty()) {
      throw BerthException.invalid("exec needs a command");
    }
    List<String> fields = new ArrayList<>();
    fields.add("tty=" + (req.tty() ? 1 : 0));
    fields.add("stdin=" + (req.stdin() ? 1 : 0));
    fields.add("rows=" + Math.max(0, req.rows()));
    fields.add("cols=" + Math.max(0, req.cols()));
    fields.add("user=" + (req.user().isBlank() ? c.config.user() : req.user()));
    fields.add("cwd=" + (req.workingDir().isBlank() ? c.config.workingDir() : req.workingDir()));
    List<String> env = new ArrayList<>(c.config.env());
    env.addAll(req.env());
    if (req.tty() && env.stream().noneMatch(e -> e.startsWith("TERM="))) {
      env.add("TERM=xterm");
    }
    env.forEach(e -> fields.add("env=" + e));
    req.cmd().forEach(a -> fields.add("arg=" + a));
    try {
      ShimConnection conn = ShimConnection.open(c.dir.resolve("shim.sock"));
      conn.exec(fields);
      IoSession s = new IoSession(conn, sink, "berth-exec-" + c.config.id().substring(0, 12),
          (code, failure) -> new IoSession.ExitStatus(code == null ? -1 : code, false, code == null, failure));
      s.start();
      return s;
    } catch (IOException e) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
  }

  /** What to run with exec. Empty user and working dir: the container's. */
  public record ExecRequest(List<String> cmd, List<String> env, String user, String workingDir, boolean tty,
      boolean stdin, int rows, int cols) {}

  /**
   * How a probe ended.
   *
   * @param exitCode the process's (128 + signal when killed; 126/127 when it could not run); -1 on timeout
   * @param output the start of its stdout and stderr, at most {@link #PROBE_OUTPUT_MAX} bytes
   */
  public record ProbeResult(int exitCode, String output, boolean timedOut) {}

  /** Docker keeps this much of a health check's output. */
  public static final int PROBE_OUTPUT_MAX = 4096;

  /**
   * Runs {@code cmd} in a running container as its exec does (its user, working dir and
   * environment, no stdin) and waits for it, at most {@code timeout}: then the process is
   * killed and the result says so. Blocks the calling thread; for health checks.
   *
   * @throws BerthException FAILED_PRECONDITION when the container is not running
   */
  public ProbeResult probe(String ref, List<String> cmd, java.time.Duration timeout) {
    Container c = lookup(ref);
    if (!c.state.running()) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
    List<String> fields = new ArrayList<>(List.of("tty=0", "stdin=0", "rows=0", "cols=0", "user=" + c.config.user(),
        "cwd=" + c.config.workingDir()));
    c.config.env().forEach(e -> fields.add("env=" + e));
    cmd.forEach(a -> fields.add("arg=" + a));
    ShimConnection conn;
    try {
      conn = ShimConnection.open(c.dir.resolve("shim.sock"));
      conn.exec(fields);
    } catch (IOException e) {
      throw BerthException.failedPrecondition("Container " + c.config.name() + " is not running");
    }
    java.util.concurrent.atomic.AtomicInteger pid = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean over = new java.util.concurrent.atomic.AtomicBoolean();
    var timer = timeouts.schedule(() -> {
      if (over.compareAndSet(false, true)) {
        if (pid.get() > 0) {
          syscalls.kill(pid.get(), Signals.SIGKILL);
        }
        conn.close();
      }
    }, timeout.toNanos(), TimeUnit.NANOSECONDS);
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    Integer code = null;
    String failure = null;
    try {
      while (code == null) {
        ShimConnection.Frame f = conn.read();
        switch (f.type()) {
          case ShimConnection.PID -> pid.set(f.int32(0));
          case ShimConnection.STDOUT, ShimConnection.STDERR ->
              out.write(f.payload(), 0, Math.min(f.payload().length, PROBE_OUTPUT_MAX - out.size()));
          case ShimConnection.FAILURE -> failure = f.text();
          case ShimConnection.EXIT -> code = f.int32(0);
          default -> { }
        }
      }
    } catch (IOException e) {
      // closed by the timeout, or the shim went away with the container
    }
    // Settles the race with the timer: after this it kills nothing.
    boolean timedOut = !over.compareAndSet(false, true);
    timer.cancel(false);
    conn.close();
    if (timedOut) {
      return new ProbeResult(-1, "Health check exceeded timeout (" + goDuration(timeout) + ")", true);
    }
    String text = out.toString(StandardCharsets.UTF_8);
    if (failure != null && text.isEmpty()) {
      text = failure;
    }
    return new ProbeResult(code == null ? -1 : code, text, false);
  }

  /** A duration as Go prints one, the common cases: "30s", "1.5s", "500ms", "2m0s". */
  static String goDuration(java.time.Duration d) {
    long ms = d.toMillis();
    if (ms < 1000) {
      return ms + "ms";
    }
    if (ms < 60_000) {
      return ms % 1000 == 0 ? ms / 1000 + "s" : java.math.BigDecimal.valueOf(ms, 3).stripTrailingZeros().toPlainString() + "s";
    }
    return d.toMinutes() + "m" + (d.toSecondsPart() + (d.toMillisPart() > 0 ? "." + String.format("%03d", d.toMillisPart()).replaceAll("0+$", "") : "")) + "s";
  }

  // ---------------------------------------------------------------- commit

  /**
   * Makes an image of a container: its image's layers and its writable layer on top, with the
   * container's entrypoint, command, environment, working dir, user and labels as the config.
   *
   * <p>With {@code pause} (docker commit's default), a running container is frozen through its
   * cgroup ({@link Cgroups#freeze}) while its writable layer is packed, so that no file is
   * caught half-written, and thawed afterwards, whether the packing worked or not. Its
   * processes notice nothing but the lost time. Without {@code pause}, or for a container that
   * is not running, the layer is packed as it is: files written meanwhile may be caught
   * half-written. The container's lock is held while packing, so a start, stop or second
   * commit of it waits.
   *
   * @throws BerthException FAILED_PRECONDITION when the container cannot be paused (this
   *     machine has no freezer, or its cgroup predates Berth's use of one: commit without
   *     pause) or its layer cannot be read; UNAVAILABLE when it does not freeze in time (it
   *     runs on); INTERNAL when it cannot be resumed
   */
  public ImageRecord commit(String ref, String reference, String comment, boolean pause) {
    Container c = lookup(ref);
    ContainerConfig cfg = c.config;
    ImageRecord base = images.get(cfg.imageId());
    var ic = base.config();
    CreateRequest req = cfg.request();
    List<String> entrypoint = req.entrypointSet() ? req.entrypoint() : ic.entrypoint();
    List<String> cmd = !req.cmd().isEmpty() ? req.cmd() : req.entrypointSet() ? List.of() : ic.cmd();
    // HOSTNAME belongs to this container, not to the image.
    List<String> env = cfg.env().stream().filter(e -> !e.startsWith("HOSTNAME=")).toList();
    Map<String, String> labels = cfg.labels();
    var config = new dev.berth.agent.image.ImageConfig(entrypoint, cmd, env, cfg.workingDir(), cfg.user(), labels,
        req.stopSignal().isBlank() ? ic.stopSignal() : req.stopSignal(), ic.exposedPorts(), ic.volumes(),
        cfg.healthcheck());
    Path tmp = null;
    try {
      tmp = Files.createTempFile(Files.createDirectories(settings.dataDir().resolve("tmp")), "commit-", ".tar");
      try (var out = new java.io.BufferedOutputStream(Files.newOutputStream(tmp))) {
        packUpper(c, pause, out);
      }
      try (var in = Files.newInputStream(tmp)) {
        return images.commit(cfg.imageId(), in, config, reference,
            comment == null || comment.isBlank() ? "committed from container " + cfg.name() : comment);
      }
    } catch (IOException e) {
      throw BerthException.failedPrecondition("cannot commit container " + cfg.name() + ": " + e.getMessage());
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // the agent's tmp dir is cleared at start
        }
      }
    }
  }

  /**
   * Packs the writable layer of {@code c} into {@code out}; with {@code pause} and the container
   * running, its cgroup is frozen meanwhile and thawed whatever happens.
   */
  private void packUpper(Container c, boolean pause, java.io.OutputStream out) throws IOException {
    synchronized (c) {
      String cgroup = cgroupPath(c.config.id());
      boolean freeze = pause && c.state.running();
      if (freeze) {
        try {
          cgroups.freeze(cgroup);
        } catch (BerthException e) {
          if (e.kind() == BerthException.Kind.UNAVAILABLE) {
            throw new BerthException(e.kind(), "cannot pause container " + c.config.name() + ": " + e.getMessage(), e);
          }
          throw BerthException.failedPrecondition("cannot pause container " + c.config.name() + " to commit it: "
              + e.getMessage() + " (commit it with --pause=false)");
        }
      }
      Throwable failure = null;
      try {
        new LayerPacker(syscalls).pack(c.dir.resolve("upper"), out);
      } catch (IOException | RuntimeException | Error e) {
        failure = e;
        throw e;
      } finally {
        if (freeze) {
          thawAfterCommit(c, cgroup, failure);
        }
      }
    }
  }

  /** Resumes a container paused for commit; a failure to is INTERNAL, carrying the packing's failure if any. */
  private void thawAfterCommit(Container c, String cgroup, Throwable packFailure) {
    try {
      cgroups.thaw(cgroup);
    } catch (RuntimeException e) {
      BerthException stuck = BerthException.internal("container " + c.config.name()
          + " was paused for commit and could not be resumed: " + e.getMessage(), e);
      if (packFailure != null) {
        stuck.addSuppressed(packFailure);
      }
      throw stuck;
    }
  }

  // ---------------------------------------------------------------- queries

  public List<ContainerView> list(boolean all) {
    return containers.values().stream()
        .filter(c -> all || c.state.running())
        .sorted(Comparator.comparing((Container c) -> c.config.created()).reversed())
        .map(this::view)
        .toList();
  }

  public ContainerView inspect(String ref) {
    return view(lookup(ref));
  }

  /** Completes with the state once the container is not running (at once if it is not). */
  public CompletableFuture<ContainerState> waitExit(String ref) {
    Container c = lookup(ref);
    return c.state.running() ? c.exited : CompletableFuture.completedFuture(c.state);
  }

  /** Streams the container's log records; see {@link LogReader#read}. */
  public void logs(String ref, int tail, boolean follow, Instant since, java.util.function.Predicate<LogReader.Entry> sink)
      throws IOException, InterruptedException {
    Container c = lookup(ref);
    new LogReader(c.dir, LOG_FILE).read(tail, follow, since, () -> c.state.running(), sink);
  }

  /** True when a container (running or not) is on the network. */
  public boolean networkInUse(String networkId) {
    return containers.values().stream().anyMatch(c -> c.config.networkId().equals(networkId));
  }

  /** The containers (running or not) on a network, as (id, name) pairs, with the endpoint of each running one. */
  public List<ContainerView> networkMembers(String networkId) {
    return containers.values().stream().filter(c -> c.config.networkId().equals(networkId)).map(this::view).toList();
  }

  private Optional<Path> dirOf(String id) {
    Container c = containers.get(id);
    return c == null ? Optional.empty() : Optional.of(c.dir);
  }

  /** True when a container (running or not) uses the image. */
  public boolean imageInUse(String imageId) {
    return containers.values().stream().anyMatch(c -> c.config.imageId().equals(imageId));
  }

  /** True when a running container uses the image. */
  public boolean imageRunning(String imageId) {
    return containers.values().stream().anyMatch(c -> c.state.running() && c.config.imageId().equals(imageId));
  }

  public int count() {
    return containers.size();
  }

  public int running() {
    return (int) containers.values().stream().filter(c -> c.state.running()).count();
  }

  private ContainerView view(Container c) {
    return new ContainerView(c.config, c.state, c.dir.resolve("rootfs"), cgroupPath(c.config.id()), c.dir.resolve(LOG_FILE),
        c.endpoint);
  }

  /** Finds a container by id, name or unique id prefix. */
  private Container lookup(String ref) {
    if (ref == null || ref.isBlank()) {
      throw BerthException.invalid("a container id or name is required");
    }
    String r = ref.startsWith("/") ? ref.substring(1) : ref;
    Container c = containers.get(r);
    if (c != null) {
      return c;
    }
    for (Container x : containers.values()) {
      if (x.config.name().equals(r)) {
        return x;
      }
    }
    List<Container> matches = containers.values().stream().filter(x -> x.config.id().startsWith(r)).toList();
    if (matches.size() == 1) {
      return matches.get(0);
    }
    if (matches.size() > 1) {
      throw BerthException.invalid("multiple containers match the id prefix \"" + ref + "\"; give more of the id");
    }
    throw BerthException.notFound("No such container: " + ref);
  }

  // ---------------------------------------------------------------- persistence and recovery

  private record Persisted(ContainerConfig config, ContainerState state) {}

  private void persist(Container c) {
    try {
      AtomicFiles.write(c.dir.resolve(STATE_FILE), json.writeValueAsBytes(new Persisted(c.config, c.state)));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Loads every container from disk. Those that were running are re-adopted when their shim
   * still runs; the exit of those that ended while the agent was away is read from their
   * exit file. Leftover mounts and cgroups of stopped containers are released.
   */
  private void recover() throws IOException {
    try (Stream<Path> dirs = Files.list(containersDir)) {
      for (Path dir : (Iterable<Path>) dirs::iterator) {
        Path state = dir.resolve(STATE_FILE);
        if (!Files.isRegularFile(state)) {
          LOG.warning("ignoring " + dir + ": no " + STATE_FILE);
          continue;
        }
        Persisted p;
        try {
          p = json.readValue(state.toFile(), Persisted.class);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "ignoring " + dir + ": unreadable " + STATE_FILE, e);
          continue;
        }
        Container c = new Container(p.config(), dir, p.state());
        containers.put(p.config().id(), c);
        try {
          net.manager().reservePorts(c.config.id(), c.config.name(), c.config.ports());
        } catch (BerthException e) {
          LOG.warning("container " + c.config.name() + " lost its published ports: " + e.getMessage());
        }
        if (c.state.running()) {
          c.exited = new CompletableFuture<>();
          if (shimAlive(c)) {
            // An agent that died in the middle of a commit left the container frozen; only a
            // commit ever freezes, and none runs yet, so a frozen container here is that one.
            thawQuietly(c);
            c.endpoint = net.endpoint(dir).orElse(null);
            if (c.endpoint != null) {
              net.manager().adopt(c.endpoint);
            }
            // Before the watch, so that the adoption is told before the exit.
            events.adopted(view(c));
            watch(c);
          } else {
            // Its shim is gone: it ended while the agent was away, or the host restarted.
            exits.execute(() -> onExit(c, true));
          }
        } else {
          if (c.state.status() == ContainerState.Status.REMOVING) {
            exits.execute(() -> remove(c.config.id(), true));
          } else {
            cleanupRun(c);
            events.adopted(view(c));
          }
        }
      }
    }
  }

  private void thawQuietly(Container c) {
    try {
      if (cgroups.frozen(cgroupPath(c.config.id()))) {
        cgroups.thaw(cgroupPath(c.config.id()));
        LOG.warning("container " + c.config.name() + " was left paused by an interrupted commit; resumed it");
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "cannot resume container " + c.config.name(), e);
    }
  }

  private static boolean shimAlive(Container c) {
    int pid = c.state.shimPid();
    if (pid <= 0) {
      return false;
    }
    try {
      String cmdline = Files.readString(Path.of("/proc", String.valueOf(pid), "cmdline")).replace('\0', ' ');
      return cmdline.contains(c.config.id()) || cmdline.contains(c.dir.toString());
    } catch (IOException e) {
      return false;
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir + ": " + e.getMessage(), e);
    }
  }

  @Override
  public void close() throws IOException {
    watcher.close();
    exits.shutdownNow();
    timeouts.shutdownNow();
  }
}
