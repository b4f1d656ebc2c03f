package dev.berth.bench;

import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOpen;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.File;
import java.io.IOException;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Start-to-exit latency of {@code /bin/true} in a container: Berth through its gRPC API and
 * through its CLI, against {@code crun run}, {@code runc run} and a bare
 * {@code unshare … chroot} floor, paired in one run (every round runs every variant once, in
 * a rotating order). Also {@code berth ps} against {@code podman ps}. Writes a markdown report.
 *
 * <p>Not a test: {@code bench/startup.sh} sets up the agent, the bundle and the peers and runs
 * this inside a private mount namespace (so that crun accepts the host's hybrid cgroup
 * layout). The agent itself runs outside; this only talks to its socket.
 *
 * <p>Options ({@code --name value}): socket (required), out, image (busybox), import TAR
 * (import it first as image-ref), bundle DIR (an OCI bundle whose rootfs is the image's),
 * rootfs (default bundle/rootfs), oci-root DIR (state roots of crun and runc), crun, runc,
 * unshare, berth (the CLI command, space separated), agent-pid, podman, podman-conf,
 * podman-storage-conf, warmup (5), rounds (30), pause-ms (100, between runs), ps-runs (20), ps-containers (3),
 * variants (comma list of ids; default all that are available), note (a line for the report),
 * findings FILE (markdown appended to the report: the written analysis of earlier experiments).
 */
public final class StartLatency {
  private static final long CLK_TCK = 100; // USER_HZ: fixed at 100 on every Linux ABI

  private final Map<String, String> opt;
  private final AgentConnection agent;
  private final List<String> notes = new ArrayList<>();
  private int seq;
  /** The CLI command once it answered a probe; null when absent or unusable. */
  private List<String> berthCmd;

  private StartLatency(Map<String, String> opt) {
    this.opt = opt;
    this.agent = new AgentConnection(opt.get("socket"));
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> o = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        System.err.println("usage: StartLatency --socket PATH [--name value]... (see the class comment)");
        System.exit(2);
      }
      o.put(args[i].substring(2), args[++i]);
    }
    if (!o.containsKey("socket")) {
      System.err.println("--socket is required");
      System.exit(2);
    }
    StartLatency b = new StartLatency(o);
    try {
      b.run();
    } finally {
      b.close();
    }
  }

  // ------------------------------------------------------------------ samples

  /** One measured run of a variant: wall time, CPU (or -1), and named phases in nanoseconds. */
  record Sample(long wallNanos, long childCpuNanos, long agentCpuNanos, Map<String, Long> phases) {}

  /** One way of running /bin/true in a container, measured once per round. */
  abstract static class Variant {
    private final String id;
    private final String label;

    Variant(String id, String label) {
      this.id = id;
      this.label = label;
    }

    String id() {
      return id;
    }

    String label() {
      return label;
    }

    abstract Sample run() throws Exception;
  }

  // ------------------------------------------------------------------ main flow

  private void run() throws Exception {
    int warmup = Integer.parseInt(opt.getOrDefault("warmup", "5"));
    int rounds = Integer.parseInt(opt.getOrDefault("rounds", "30"));
    String image = opt.getOrDefault("image", "busybox");
    awaitAgent();
    if (opt.containsKey("import")) {
      Image img = agent.importImage(Path.of(opt.get("import")), opt.getOrDefault("image-ref", "busybox:latest"));
      System.err.println("imported " + img.getRepoTagsList() + " " + img.getId());
    }
    ImageServiceGrpc.newBlockingStub(agent.channel()).inspect(ImageRef.newBuilder().setReference(image).build());

    List<Variant> all = new ArrayList<>();
    all.add(new BerthApi("berth-api", "Berth, gRPC API (Create, Attach+start, exit)", image, false));
    all.add(new BerthApi("berth-api-unconfined", "Berth, gRPC API, seccomp=unconfined", image, true));
    List<String> berth = berthCli();
    berthCmd = berth;
    if (berth != null) {
      all.add(new Subprocess("berth-cli", "Berth CLI: berth run --rm busybox /bin/true",
          id -> concat(berth, List.of("-H", opt.get("socket"), "run", "--rm", image, "/bin/true"))));
    }
    Path bundle = opt.containsKey("bundle") ? Path.of(opt.get("bundle")) : null;
    Path ociRoot = opt.containsKey("oci-root") ? Path.of(opt.get("oci-root")) : null;
    if (bundle != null && ociRoot != null) {
      String crun = opt.getOrDefault("crun", "crun");
      String runc = opt.getOrDefault("runc", "runc");
      all.add(new Subprocess("crun", "crun run (OCI bundle)",
          id -> List.of(crun, "--root", ociRoot.resolve("crun").toString(), "run", "--bundle", bundle.toString(), id)));
      all.add(new Subprocess("runc", "runc run (OCI bundle)",
          id -> List.of(runc, "--root", ociRoot.resolve("runc").toString(), "run", "--bundle", bundle.toString(), id)));
    }
    Path rootfs = opt.containsKey("rootfs") ? Path.of(opt.get("rootfs")) : bundle == null ? null : bundle.resolve("rootfs");
    if (rootfs != null) {
      String unshare = opt.getOrDefault("unshare", "unshare");
      all.add(new Subprocess("floor", "floor: unshare -pf -mui -n chroot ROOTFS /bin/true",
          id -> List.of(unshare, "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "chroot", rootfs.toString(), "/bin/true")));
    }
    all.add(new Subprocess("host-true", "host /bin/true (the harness's spawn cost)", id -> List.of("/bin/true")));

    List<Variant> variants = all;
    if (opt.containsKey("variants")) {
      List<String> want = Arrays.asList(opt.get("variants").split(","));
      variants = all.stream().filter(v -> want.contains(v.id())).toList();
    }
    // Fail fast: one run of each before anything is timed.
    for (Variant v : variants) {
      v.run();
    }

    Map<String, List<Sample>> samples = new LinkedHashMap<>();
    variants.forEach(v -> samples.put(v.id(), new ArrayList<>()));
    int n = variants.size();
    // A pause between runs lets what a run leaves behind (the agent removing a --rm container,
    // a JVM's exit, JIT threads) settle before the next one is timed: on a machine of few CPUs
    // it would otherwise be charged to whichever variant comes next.
    long pauseMs = Long.parseLong(opt.getOrDefault("pause-ms", "100"));
    for (int r = 0; r < warmup + rounds; r++) {
      for (int k = 0; k < n; k++) {
        Variant v = variants.get((r + k) % n);
        Thread.sleep(pauseMs);
        Sample s = v.run();
        if (r >= warmup) {
          samples.get(v.id()).add(s);
        }
      }
      System.err.printf(Locale.ROOT, "round %d/%d%s%n", r + 1, warmup + rounds, r < warmup ? " (warm-up)" : "");
    }

    PsResult ps = measurePs(image);
    String report = report(variants, samples, ps, warmup, rounds);
    System.out.print(report);
    if (opt.containsKey("out")) {
      Path out = Path.of(opt.get("out"));
      Files.createDirectories(out.toAbsolutePath().getParent());
      Files.writeString(out, report);
      System.err.println("wrote " + out);
    }
  }

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

  private List<String> berthCli() {
    String b = opt.get("berth");
    if (b == null || b.isBlank()) {
      notes.add("The Berth CLI was not given (--berth): its variants were not measured.");
      return null;
    }
    List<String> cmd = Arrays.asList(b.trim().split("\\s+"));
    try {
      timeCommand(concat(cmd, List.of("-H", opt.get("socket"), "ps")), Map.of());
    } catch (Exception e) {
      notes.add("The Berth CLI (" + b + ") is not usable, its variants were not measured: `berth ps` "
          + e.getMessage().replace('\n', ' '));
      return null;
    }
    return cmd;
  }

  // ------------------------------------------------------------------ Berth through the API

  private final class BerthApi extends Variant {
    private final String image;
    private final boolean unconfined;

    BerthApi(String id, String label, String image, boolean unconfined) {
      super(id, label);
      this.image = image;
      this.unconfined = unconfined;
    }

    @Override
    Sample run() throws Exception {
      ContainerServiceGrpc.ContainerServiceBlockingStub blocking = agent.containers();
      ContainerSpec.Builder spec = ContainerSpec.newBuilder().setImage(image).addCmd("/bin/true");
      if (unconfined) {
        spec.addSecurityOpt("seccomp=unconfined");
      }
      CreateContainerRequest req = CreateContainerRequest.newBuilder().setSpec(spec).build();
      long agentCpu0 = agentCpuNanos();
      long wall0 = epochNanos();
      long t0 = System.nanoTime();
      Container c = blocking.create(req);
      long t1 = System.nanoTime();

      CompletableFuture<ExitStatus> exit = new CompletableFuture<>();
      StreamObserver<AttachInput>[] in = newInputHolder();
      in[0] = ContainerServiceGrpc.newStub(agent.channel()).attach(new StreamObserver<AttachOutput>() {
        @Override
        public void onNext(AttachOutput o) {
          if (o.getOutputCase() == AttachOutput.OutputCase.EXIT) {
            exit.complete(o.getExit());
          }
        }

        @Override
        public void onError(Throwable t) {
          exit.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
          in[0].onCompleted();
          exit.completeExceptionally(new IllegalStateException("attach ended without an exit status"));
        }
      });
      in[0].onNext(AttachInput.newBuilder().setOpen(AttachOpen.newBuilder().setId(c.getId()).setStart(true)).build());
      ExitStatus st = exit.get(60, TimeUnit.SECONDS);
      long t2 = System.nanoTime();
      long agentCpu1 = agentCpuNanos();
      if (st.getExitCode() != 0 || st.getExitUnknown()) {
        throw new IllegalStateException(id() + ": /bin/true exited " + st.getExitCode() + " " + st.getError());
      }
      // Outside the total: the agent's own timestamps of the run, for the breakdown; its time
      // is what any unary RPC costs here.
      long ti = System.nanoTime();
      Container after = blocking.inspect(ContainerRef.newBuilder().setId(c.getId()).build());
      long t3 = System.nanoTime();
      blocking.remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());
      long t4 = System.nanoTime();

      Map<String, Long> ph = new LinkedHashMap<>();
      ph.put("create", t1 - t0);
      ph.put("attach+start→exit msg", t2 - t1);
      long wallAttach = wall0 + (t1 - t0);
      long wallExitMsg = wall0 + (t2 - t0);
      if (after.getStartedAtUnixNanos() > 0 && after.getFinishedAtUnixNanos() > 0) {
        ph.put("  attach→launcher reported (mount, cgroups, launcher, shim)", after.getStartedAtUnixNanos() - wallAttach);
        ph.put("  launcher reported→container exited (release, execve, run)",
            after.getFinishedAtUnixNanos() - after.getStartedAtUnixNanos());
        ph.put("  container exited→exit msg at client (exit path)", wallExitMsg - after.getFinishedAtUnixNanos());
      }
      ph.put("remove (not in total)", t4 - t3);
      ph.put("inspect, a unary RPC for reference (not in total)", t3 - ti);
      return new Sample(t2 - t0, -1, agentCpu1 < 0 ? -1 : agentCpu1 - agentCpu0, ph);
    }
  }

  @SuppressWarnings("unchecked")
  private static StreamObserver<AttachInput>[] newInputHolder() {
    return (StreamObserver<AttachInput>[]) new StreamObserver<?>[1];
  }

  // ------------------------------------------------------------------ subprocesses

  interface Command {
    List<String> build(String uniqueId);
  }

  private final class Subprocess extends Variant {
    private final Command command;

    Subprocess(String id, String label, Command command) {
      super(id, label);
      this.command = command;
    }

    @Override
    Sample run() throws Exception {
      String cid = "bench-" + id() + "-" + (++seq);
      List<String> cmd = command.build(cid);
      Path log = Files.createTempFile("bench-" + id(), ".log");
      try {
        ProcessBuilder pb = new ProcessBuilder(cmd)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
            .redirectErrorStream(true);
        long agent0 = agentCpuNanos();
        long cpu0 = childrenCpuNanos();
        long t0 = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          p.descendants().forEach(ProcessHandle::destroyForcibly);
          p.destroyForcibly();
          throw new IllegalStateException(String.join(" ", cmd) + ": no exit within 60 s");
        }
        long t1 = System.nanoTime();
        long cpu1 = childrenCpuNanos();
        long agent1 = agentCpuNanos();
        if (p.exitValue() != 0) {
          throw new IllegalStateException(String.join(" ", cmd) + " exited " + p.exitValue() + ": "
              + Files.readString(log).strip());
        }
        return new Sample(t1 - t0, cpu1 - cpu0, agent1 < 0 ? -1 : agent1 - agent0, Map.of());
      } finally {
        Files.deleteIfExists(log);
      }
    }
  }

  /** CPU of this JVM's reaped children (and their reaped descendants): /proc/self/stat cutime+cstime. */
  private static long childrenCpuNanos() throws IOException {
    String[] f = statFields(Path.of("/proc/self/stat"));
    return (Long.parseLong(f[15]) + Long.parseLong(f[16])) * (1_000_000_000L / CLK_TCK);
  }

  /** berthd's CPU, its reaped children (the launcher) included; -1 without --agent-pid. */
  private long agentCpuNanos() {
    String pid = opt.get("agent-pid");
    if (pid == null) {
      return -1;
    }
    try {
      String[] f = statFields(Path.of("/proc", pid, "stat"));
      long ticks = Long.parseLong(f[13]) + Long.parseLong(f[14]) + Long.parseLong(f[15]) + Long.parseLong(f[16]);
      return ticks * (1_000_000_000L / CLK_TCK);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** Fields of a stat line, 0-based as in proc(5) minus one (f[0] is pid); the comm may hold spaces. */
  private static String[] statFields(Path stat) throws IOException {
    String s = Files.readString(stat);
    int close = s.lastIndexOf(')');
    String[] rest = s.substring(close + 2).trim().split(" ");
    String[] f = new String[rest.length + 2];
    f[0] = s.substring(0, s.indexOf(' '));
    f[1] = s.substring(s.indexOf('(') + 1, close);
    System.arraycopy(rest, 0, f, 2, rest.length);
    return f;
  }

  // ------------------------------------------------------------------ ps

  record PsResult(List<Long> berth, List<Long> podman, List<Long> listRpc, int containers, String berthError,
      String podmanError) {}

  private PsResult measurePs(String image) throws Exception {
    int runs = Integer.parseInt(opt.getOrDefault("ps-runs", "20"));
    int count = Integer.parseInt(opt.getOrDefault("ps-containers", "3"));
    if (runs <= 0) {
      return null;
    }
    List<String> berth = berthCmd;
    List<String> made = new ArrayList<>();
    List<Long> b = new ArrayList<>();
    List<Long> pd = new ArrayList<>();
    List<Long> rpc = new ArrayList<>();
    String berthError = null;
    String podmanError = null;
    try {
      // A few running containers and one that exited, as `berth ps -a` would show.
      for (int i = 0; i < count; i++) {
        Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
            .setImage(image).addCmd("/bin/sleep").addCmd("3600")).build());
        made.add(c.getId());
        agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
      }
      Map<String, String> podEnv = new LinkedHashMap<>();
      if (opt.containsKey("podman-conf")) {
        podEnv.put("CONTAINERS_CONF", opt.get("podman-conf"));
      }
      if (opt.containsKey("podman-storage-conf")) {
        podEnv.put("CONTAINERS_STORAGE_CONF", opt.get("podman-storage-conf"));
      }
      String podman = opt.get("podman");
      List<String> berthPs = berth == null ? null : concat(berth, List.of("-H", opt.get("socket"), "ps"));
      List<String> podmanPs = podman == null ? null : List.of(podman, "ps");
      int warm = 2;
      long pauseMs = Long.parseLong(opt.getOrDefault("pause-ms", "100"));
      for (int i = 0; i < warm + runs; i++) {
        Thread.sleep(pauseMs);
        if (berthPs != null && berthError == null) {
          try {
            long t = timeCommand(berthPs, Map.of());
            if (i >= warm) {
              b.add(t);
            }
          } catch (IllegalStateException e) {
            berthError = e.getMessage();
          }
        }
        if (podmanPs != null && podmanError == null) {
          Thread.sleep(pauseMs);
          try {
            long t = timeCommand(podmanPs, podEnv);
            if (i >= warm) {
              pd.add(t);
            }
          } catch (IllegalStateException e) {
            podmanError = e.getMessage();
          }
        }
        long t0 = System.nanoTime();
        agent.containers().list(ListContainersRequest.newBuilder().setAll(false).build());
        if (i >= warm) {
          rpc.add(System.nanoTime() - t0);
        }
      }
    } finally {
      for (String id : made) {
        try {
          agent.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(true).build());
        } catch (StatusRuntimeException e) {
          System.err.println("cannot remove " + id + ": " + e.getStatus());
        }
      }
    }
    if (berth == null) {
      berthError = "no usable Berth CLI (see the notes)";
    }
    if (!opt.containsKey("podman")) {
      podmanError = "no podman given";
    }
    return new PsResult(b, pd, rpc, count, berthError, podmanError);
  }

  /** Wall time of a command; throws IllegalStateException when it fails or takes over 60 s. */
  private static long timeCommand(List<String> cmd, Map<String, String> env) throws Exception {
    Path log = Files.createTempFile("bench-cmd", ".log");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd)
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()))
          .redirectErrorStream(true);
      pb.environment().putAll(env);
      long t0 = System.nanoTime();
      Process p = pb.start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new IllegalStateException("hung: no exit within 60 s (" + String.join(" ", cmd) + ")");
      }
      long t = System.nanoTime() - t0;
      if (p.exitValue() != 0) {
        throw new IllegalStateException("exited " + p.exitValue() + " (" + String.join(" ", cmd) + "): "
            + Files.readString(log).strip());
      }
      return t;
    } finally {
      Files.deleteIfExists(log);
    }
  }

  // ------------------------------------------------------------------ report

  private String report(List<Variant> variants, Map<String, List<Sample>> samples, PsResult ps, int warmup, int rounds)
      throws IOException, InterruptedException {
    StringBuilder o = new StringBuilder();
    o.append("# Start-up latency: `/bin/true` in a container\n\n");
    o.append("Generated by `bench/startup.sh` (harness `bench/src/main/java/dev/berth/bench/StartLatency.java`).\n\n");
    o.append("| fact | value |\n|---|---|\n");
    o.append("| date (UTC) | ").append(DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(
        Instant.now().atOffset(ZoneOffset.UTC).withNano(0))).append(" |\n");
    o.append("| nproc | ").append(Runtime.getRuntime().availableProcessors()).append(" |\n");
    o.append("| CPU | ").append(cpuModel()).append(" |\n");
    o.append("| kernel | ").append(System.getProperty("os.version")).append(" |\n");
    o.append("| JDK | ").append(System.getProperty("java.vm.name")).append(' ')
        .append(System.getProperty("java.runtime.version")).append(" |\n");
    o.append("| cgroups | ").append(Files.exists(Path.of("/sys/fs/cgroup/cgroup.controllers")) ? "v2" : "v1 (hybrid)")
        .append(" |\n");
    for (String peer : List.of("crun", "runc", "podman")) {
      String cmd = opt.getOrDefault(peer, peer);
      o.append("| ").append(peer).append(" | ").append(firstLine(List.of(cmd, "--version"))).append(" |\n");
    }
    o.append("| rounds | ").append(warmup).append(" warm-up (discarded) + ").append(rounds)
        .append(" measured; each round runs every variant once, order rotating |\n\n");

    long crunMedian = samples.containsKey("crun") ? Percentiles.median(walls(samples.get("crun"))) : -1;
    o.append("## Start to exit\n\n");
    o.append("| variant | median ms | p90 ms | min ms | median / crun | CPU ms (children) | CPU ms (berthd) |\n");
    o.append("|---|---:|---:|---:|---:|---:|---:|\n");
    for (Variant v : variants) {
      List<Sample> s = samples.get(v.id());
      List<Long> w = walls(s);
      long med = Percentiles.median(w);
      o.append("| ").append(v.label()).append(" | ").append(ms(med)).append(" | ").append(ms(Percentiles.pct(w, 0.9)))
          .append(" | ").append(ms(w.stream().mapToLong(Long::longValue).min().orElse(0))).append(" | ")
          .append(crunMedian > 0 ? String.format(Locale.ROOT, "%.2f×", (double) med / crunMedian) : "–").append(" | ")
          .append(meanMs(s.stream().map(Sample::childCpuNanos).toList())).append(" | ")
          .append(meanMs(s.stream().map(Sample::agentCpuNanos).toList())).append(" |\n");
    }
    o.append("\nCPU is the mean per run, from clock ticks (10 ms resolution): *children* is the reaped subprocess "
        + "tree of the harness (`/proc/self/stat` cutime+cstime); *berthd* is the agent with its reaped children "
        + "(the launcher), not the shim or the container, which are not its children.\n\n");

    for (Variant v : variants) {
      List<Sample> s = samples.get(v.id());
      if (s.isEmpty() || s.get(0).phases().isEmpty()) {
        continue;
      }
      o.append("### Breakdown: ").append(v.label()).append("\n\n| phase | median ms | p90 ms |\n|---|---:|---:|\n");
      for (String phase : s.get(0).phases().keySet()) {
        List<Long> p = s.stream().map(x -> x.phases().getOrDefault(phase, 0L)).toList();
        o.append("| ").append(phase.replace("  ", "&nbsp;&nbsp;")).append(" | ").append(ms(Percentiles.median(p)))
            .append(" | ").append(ms(Percentiles.pct(p, 0.9))).append(" |\n");
      }
      o.append('\n');
    }

    if (ps != null) {
      o.append("## `ps`\n\n| command | runs | median ms | p90 ms | min ms |\n|---|---:|---:|---:|---:|\n");
      psRow(o, "`berth ps` (CLI, " + ps.containers() + " running containers)", ps.berth(), ps.berthError());
      psRow(o, "`podman ps` (empty store, cgroupfs, file events)", ps.podman(), ps.podmanError());
      psRow(o, "List RPC (harness, for reference)", ps.listRpc(), null);
      if (!ps.berth().isEmpty() && !ps.podman().isEmpty()) {
        o.append(String.format(Locale.ROOT, "\n`berth ps` / `podman ps` medians: %.2f×\n",
            (double) Percentiles.median(ps.berth()) / Percentiles.median(ps.podman())));
      }
      o.append('\n');
    }

    o.append("## What dominates\n\n");
    o.append(dominates(samples, crunMedian));
    if (opt.containsKey("note")) {
      o.append('\n').append(opt.get("note")).append('\n');
    }
    if (opt.containsKey("findings") && Files.isRegularFile(Path.of(opt.get("findings")))) {
      o.append('\n').append(Files.readString(Path.of(opt.get("findings"))).strip()).append('\n');
    }
    if (!notes.isEmpty()) {
      o.append("\n## Notes\n\n");
      notes.forEach(n -> o.append("- ").append(n).append('\n'));
    }
    return o.toString();
  }

  private String dominates(Map<String, List<Sample>> samples, long crunMedian) {
    StringBuilder o = new StringBuilder();
    List<Sample> api = samples.get("berth-api");
    if (api == null || api.isEmpty()) {
      return "The API variant was not measured.\n";
    }
    long apiMed = Percentiles.median(walls(api));
    if (crunMedian > 0) {
      double r = (double) apiMed / crunMedian;
      o.append(String.format(Locale.ROOT, "- Target \"API within 1.5× crun\": %.2f× — %s.%n", r, r <= 1.5 ? "met" : "NOT met"));
    }
    if (samples.containsKey("runc")) {
      long runc = Percentiles.median(walls(samples.get("runc")));
      o.append(String.format(Locale.ROOT, "- Target \"faster than runc\": API %s ms vs runc %s ms — %s.%n",
          ms(apiMed), ms(runc), apiMed < runc ? "met" : "NOT met"));
    }
    Map<String, Long> med = new LinkedHashMap<>();
    for (String phase : api.get(0).phases().keySet()) {
      med.put(phase, Percentiles.median(api.stream().map(x -> x.phases().getOrDefault(phase, 0L)).toList()));
    }
    String top = med.entrySet().stream().filter(e -> e.getKey().startsWith("  ") || e.getKey().equals("create"))
        .max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse("?");
    o.append(String.format(Locale.ROOT, "- Of the API path's median %s ms: Create %s ms, then attach+start until the "
        + "exit message %s ms; the largest part is \"%s\" (%s ms). Remove, outside the total, takes %s ms.%n",
        ms(apiMed), ms(med.getOrDefault("create", 0L)), ms(med.getOrDefault("attach+start→exit msg", 0L)), top.strip(),
        ms(med.getOrDefault(top, 0L)), ms(med.getOrDefault("remove (not in total)", 0L))));
    List<Sample> unc = samples.get("berth-api-unconfined");
    String run = "  launcher reported→container exited (release, execve, run)";
    if (unc != null && !unc.isEmpty() && med.containsKey(run)) {
      long a = med.get(run);
      long b = Percentiles.median(unc.stream().map(x -> x.phases().getOrDefault(run, 0L)).toList());
      o.append(String.format(Locale.ROOT, "- Seccomp (the default profile is compiled and loaded by the container's init "
          + "after the release): release→exit takes %s ms with it, %s ms with seccomp=unconfined; whole-run medians %s vs "
          + "%s ms. The OCI bundle of crun/runc has no seccomp profile.%n", ms(a), ms(b), ms(apiMed), ms(Percentiles.median(walls(unc)))));
    }
    List<Sample> floor = samples.get("floor");
    if (floor != null && !floor.isEmpty()) {
      o.append(String.format(Locale.ROOT, "- The floor (namespaces + chroot, no cgroups, no mounts) is %s ms.%n",
          ms(Percentiles.median(walls(floor)))));
    }
    return o.toString();
  }

  private static void psRow(StringBuilder o, String label, List<Long> t, String error) {
    if (t.isEmpty()) {
      o.append("| ").append(label).append(" | 0 | – | – | – |\n");
      if (error != null) {
        o.append("\n> ").append(label).append(": not measured: ").append(error.replace('\n', ' ')).append("\n\n");
      }
      return;
    }
    o.append("| ").append(label).append(" | ").append(t.size()).append(" | ").append(ms(Percentiles.median(t))).append(" | ")
        .append(ms(Percentiles.pct(t, 0.9))).append(" | ").append(ms(t.stream().mapToLong(Long::longValue).min().orElse(0)))
        .append(" |\n");
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

  private static String firstLine(List<String> cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      return out.lines().findFirst().orElse("?").strip();
    } catch (IOException | InterruptedException e) {
      return "not available";
    }
  }

  private static List<Long> walls(List<Sample> s) {
    return s.stream().map(Sample::wallNanos).toList();
  }

  private static String ms(long nanos) {
    return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
  }

  private static String meanMs(List<Long> v) {
    if (v.isEmpty() || v.stream().anyMatch(x -> x < 0)) {
      return "–";
    }
    return String.format(Locale.ROOT, "%.1f", v.stream().mapToLong(Long::longValue).average().orElse(0) / 1e6);
  }

  private static long epochNanos() {
    Instant i = Instant.now();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> r = new ArrayList<>(a);
    r.addAll(b);
    return r;
  }

  // ------------------------------------------------------------------ gRPC



  private void close() {
    agent.close();
  }
}
