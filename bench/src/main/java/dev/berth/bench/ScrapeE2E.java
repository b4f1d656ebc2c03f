package dev.berth.bench;

import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.Resources;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.zip.GZIPInputStream;

/**
 * The scrape of a real berthd's {@code /metrics} while it runs N busybox {@code sleep 3600}
 * containers (by default 100, then 1,000), against podman's {@code podman stats --no-stream
 * --format json} over the same number of the same containers: both read every running
 * container's cgroup statistics and report them. Run by {@code bench/scrape.sh}, which starts
 * the berthd, builds podman's private configuration and cleans up; never by the test suite.
 *
 * <p>For each count, the containers are created and started {@code parallel} at a time through
 * the gRPC API; then {@code scrapes} rounds, each one {@code GET /metrics} as Prometheus sends
 * it (gzip accepted) and one plain, every request more than the agent's 1 s reading cache
 * after the one before, so that each pays a full reading. Client-side wall time until the last
 * byte, the body's size, its series, the agent's own {@code berth_metrics_collect_seconds} for
 * that reading, and berthd's CPU time over the request (from {@code /proc/PID/stat}). Then
 * podman: the same number of containers started {@code parallel} at a time, then {@code podman
 * stats} timed {@code scrapes} times, with the CPU time it used.
 *
 * <p>Arguments ({@code --name value}): socket, import (a rootfs tar), metrics-url, agent-pid,
 * counts (100,1000), scrapes (20), warmup (10 uncounted scrapes first), gap-ms (1200), parallel
 * (4), memory (8m), out; for the peer:
 * podman, podman-conf, podman-storage-conf, podman-image, cgroup-parent, podman-setup-limit-s
 * (900: beyond that many seconds of starting containers podman is measured at the count reached),
 * podman-security-opt (given to every {@code podman run}, e.g. seccomp=unconfined).
 */
public final class ScrapeE2E {
  private final Map<String, String> args;
  private final AgentConnection agent;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();
  private final int parallel;
  private final int scrapes;
  private final long gapMillis;
  private final int warmup;
  private final List<String> berthIds = Collections.synchronizedList(new ArrayList<>());
  /** podman runs that failed while its containers were started, for the report. */
  private final List<String> failures = Collections.synchronizedList(new ArrayList<>());

  private ScrapeE2E(Map<String, String> args) {
    this.args = args;
    this.agent = new AgentConnection(args.get("socket"));
    this.parallel = Integer.parseInt(args.getOrDefault("parallel", "4"));
    this.scrapes = Integer.parseInt(args.getOrDefault("scrapes", "20"));
    this.gapMillis = Long.parseLong(args.getOrDefault("gap-ms", "1200"));
    this.warmup = Integer.parseInt(args.getOrDefault("warmup", "10"));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    for (String required : List.of("socket", "import", "metrics-url", "agent-pid", "out")) {
      if (!a.containsKey(required)) {
        System.err.println("ScrapeE2E: --" + required + " is required");
        System.exit(2);
      }
    }
    ScrapeE2E b = new ScrapeE2E(a);
    try {
      b.run();
    } finally {
      b.agent.close();
    }
    System.exit(0);
  }

  /** One request: wall time, agent CPU time, the reading's own time as the agent reports it, sizes. */
  record Scrape(long wallMicros, long agentCpuMicros, long collectMicros, int wireBytes, int textBytes, int series,
      int containerSeries, int containers) {}

  /** The measurements at one container count. */
  record Level(int count, long startMillis, List<Scrape> gzip, List<Scrape> plain, String load, long agentFds) {}

  /** podman at one count: how many it ran, how long starting them took, each stats call's wall and CPU time. */
  record PodmanLevel(int asked, int running, long startMillis, List<Long> wallMicros, List<Long> cpuMicros,
      int jsonBytes, String load, String note) {}

  private void run() throws Exception {
    List<Integer> counts = new ArrayList<>();
    for (String c : args.getOrDefault("counts", "100,1000").split(",")) {
      counts.add(Integer.parseInt(c.strip()));
    }
    Collections.sort(counts);
    agent.importImage(Path.of(args.get("import")), "busybox");
    List<Level> levels = new ArrayList<>();
    try {
      for (int n : counts) {
        long t0 = System.nanoTime();
        grow(n);
        long startMillis = (System.nanoTime() - t0) / 1_000_000;
        System.err.printf("berth: %d containers running (%d ms to start the new ones)%n", n, startMillis);
        levels.add(measure(n, startMillis));
      }
    } finally {
      long t0 = System.nanoTime();
      removeAll();
      System.err.printf("berth: removed %d containers in %d ms%n", berthIds.size(), (System.nanoTime() - t0) / 1_000_000);
    }
    List<PodmanLevel> podman = new ArrayList<>();
    String podmanError = null;
    if (args.containsKey("podman")) {
      try {
        podmanLevels(counts, podman);
      } catch (Exception e) {
        // Berth's figures stand on their own; the report says where the peer's stopped.
        podmanError = e.getMessage();
        e.printStackTrace();
      }
    }
    Files.writeString(Path.of(args.get("out")), report(levels, podman, podmanError));
  }

  // --- Berth

  /** Creates and starts containers, {@code parallel} at a time, until {@code n} run. */
  private void grow(int n) throws Exception {
    int have = berthIds.size();
    ExecutorService pool = Executors.newFixedThreadPool(parallel);
    try {
      List<Future<?>> started = new ArrayList<>();
      for (int i = have; i < n; i++) {
        String name = "scrape-" + i;
        started.add(pool.submit(() -> {
          var c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
              .setImage("busybox").setName(name).addCmd("/bin/sleep").addCmd("3600").setNetworkMode("none")
              .setResources(Resources.newBuilder().setMemory(args.getOrDefault("memory", "8m")))).build());
          berthIds.add(c.getId());
          agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
          return null;
        }));
      }
      for (Future<?> f : started) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private void removeAll() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(parallel);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (String id : List.copyOf(berthIds)) {
        done.add(pool.submit(() -> agent.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(true).build())));
      }
      for (Future<?> f : done) {
        try {
          f.get();
        } catch (Exception e) {
          System.err.println("berth: remove: " + e.getMessage()); // bench/scrape.sh's clean-up takes what is left
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private Level measure(int n, long startMillis) throws Exception {
    String load = load();
    // Warm-up, not counted: the client's connection, and the JIT of the agent's reading, formatting and
    // compressing path, which a real agent has long compiled after its first minutes of scrapes.
    for (int i = 0; i < warmup; i++) {
      Thread.sleep(gapMillis);
      scrape(i % 2 == 0);
    }
    List<Scrape> gzip = new ArrayList<>();
    List<Scrape> plain = new ArrayList<>();
    for (int i = 0; i < scrapes; i++) {
      Thread.sleep(gapMillis);
      gzip.add(check(scrape(true), n));
      Thread.sleep(gapMillis);
      plain.add(check(scrape(false), n));
    }
    System.err.printf("berth: %d containers: scrape median %.1f ms (gzip), %.1f ms (plain)%n", n,
        Percentiles.median(gzip.stream().map(Scrape::wallMicros).toList()) / 1e3,
        Percentiles.median(plain.stream().map(Scrape::wallMicros).toList()) / 1e3);
    return new Level(n, startMillis, gzip, plain, load, agentFds());
  }

  /** Every scrape must cover every container: a scrape that skipped some would flatter the figures. */
  /** berthd's open descriptors now (the size of /proc/PID/fd, Linux 6.2 on; else counted). */
  private long agentFds() throws IOException {
    Path fd = Path.of("/proc", args.get("agent-pid"), "fd");
    long size = Files.size(fd);
    if (size > 0) {
      return size;
    }
    try (var l = Files.list(fd)) {
      return l.count();
    }
  }

  private static Scrape check(Scrape s, int n) {
    if (s.containers() != n) {
      throw new IllegalStateException("a scrape showed " + s.containers() + " containers in "
          + "container_memory_usage_bytes, not the " + n + " that run");
    }
    return s;
  }

  private Scrape scrape(boolean gzip) throws Exception {
    HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(args.get("metrics-url"))).timeout(Duration.ofSeconds(30))
        // Prometheus' own request headers (2.x), so that the agent sees what a real scrape sends.
        .header("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .header("X-Prometheus-Scrape-Timeout-Seconds", "10");
    if (gzip) {
      rb.header("Accept-Encoding", "gzip");
    }
    long cpu0 = agentCpuMicros();
    long t0 = System.nanoTime();
    HttpResponse<byte[]> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
    long wall = (System.nanoTime() - t0) / 1000;
    long cpu = agentCpuMicros() - cpu0;
    if (r.statusCode() != 200) {
      throw new IllegalStateException("GET " + args.get("metrics-url") + ": HTTP " + r.statusCode());
    }
    byte[] body = r.body();
    boolean zipped = r.headers().firstValue("Content-Encoding").orElse("").equals("gzip");
    if (gzip != zipped) {
      throw new IllegalStateException("GET /metrics with" + (gzip ? "" : "out") + " Accept-Encoding: gzip answered "
          + (zipped ? "gzipped" : "plain"));
    }
    String text = new String(zipped ? gunzip(body) : body, StandardCharsets.UTF_8);
    int series = 0;
    int containerSeries = 0;
    int containers = 0;
    long collect = -1;
    for (String line : text.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      series++;
      if (line.startsWith("container_")) {
        containerSeries++;
        if (line.startsWith("container_memory_usage_bytes{")) {
          containers++;
        }
      } else if (line.startsWith("berth_metrics_collect_seconds{")) {
        collect = Math.round(Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)) * 1e6);
      }
    }
    if (collect < 0) {
      throw new IllegalStateException("no berth_metrics_collect_seconds in the scrape");
    }
    return new Scrape(wall, cpu, collect, body.length, text.length(), series, containerSeries, containers);
  }

  private static byte[] gunzip(byte[] b) throws IOException {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(b))) {
      return in.readAllBytes();
    }
  }

  /** berthd's user plus system CPU time so far, in µs (clock ticks of 10 ms: a coarse figure, summed over scrapes). */
  private long agentCpuMicros() throws IOException {
    String stat = Files.readString(Path.of("/proc", args.get("agent-pid"), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // Fields 14 and 15 of proc(5), utime and stime, are the 12th and 13th after the name.
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000;
  }

  // --- podman

  /** podman at each of {@code counts}, into {@code out} as they are measured. */
  private void podmanLevels(List<Integer> counts, List<PodmanLevel> out) throws Exception {
    long limitNanos = Long.parseLong(args.getOrDefault("podman-setup-limit-s", "900")) * 1_000_000_000L;
    long spent = 0;
    int have = 0;
    try {
      for (int n : counts) {
        String note = "";
        long t0 = System.nanoTime();
        have = podmanGrow(have, n, limitNanos - spent);
        long took = System.nanoTime() - t0;
        spent += took;
        if (have < n) {
          note = "set-up stopped at " + have + " containers after " + spent / 1_000_000_000L + " s of starting them"
              + (failures.stream().anyMatch(f -> !f.startsWith("(succeeded")) ? ", by a `podman run` that failed twice"
              : ", the time allowed (PODMAN_SETUP_LIMIT_S)");
        }
        System.err.printf("podman: %d containers running (%d ms to start the new ones)%s%n", have, took / 1_000_000,
            note.isEmpty() ? "" : "; " + note);
        out.add(podmanStats(n, have, took / 1_000_000, note));
        if (have < n) {
          break;
        }
      }
    } finally {
      long t0 = System.nanoTime();
      podman(List.of("rm", "-f", "-t", "0", "-a"));
      System.err.printf("podman: removed all in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    }
  }

  /** Runs containers {@code parallel} at a time from {@code have} to {@code n}, or until the time budget is spent. */
  private int podmanGrow(int have, int n, long budgetNanos) throws Exception {
    long deadline = System.nanoTime() + budgetNanos;
    ExecutorService pool = Executors.newFixedThreadPool(parallel);
    java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger(have);
    try {
      List<Future<?>> workers = new ArrayList<>();
      for (int w = 0; w < parallel; w++) {
        workers.add(pool.submit(() -> {
          while (System.nanoTime() < deadline) {
            int i = next.getAndIncrement();
            if (i >= n || failures.stream().anyMatch(f -> !f.startsWith("(succeeded"))) {
              break;
            }
            List<String> run = new ArrayList<>(List.of("run", "-d", "--name", "scrape-" + i, "--network", "none",
                "--cgroup-parent", args.get("cgroup-parent"), "--memory", args.getOrDefault("memory", "8m")));
            if (!args.getOrDefault("podman-security-opt", "").isEmpty()) {
              run.addAll(List.of("--security-opt", args.get("podman-security-opt")));
            }
            run.addAll(List.of(args.get("podman-image"), "sleep", "3600"));
            try {
              podman(run);
            } catch (IllegalStateException first) {
              // Once again, after removing what the failed run left: a run can fail for a passing
              // reason (the host's other work); a second failure ends the set-up.
              podman(List.of("rm", "-f", "-t", "0", "--ignore", "scrape-" + i));
              try {
                podman(run);
              } catch (IllegalStateException second) {
                failures.add(second.getMessage());
                podman(List.of("rm", "-f", "-t", "0", "--ignore", "scrape-" + i));
                return null;
              }
              failures.add("(succeeded when retried) " + first.getMessage());
            }
          }
          return null;
        }));
      }
      for (Future<?> f : workers) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    String ids = podman(List.of("ps", "-q")).strip();
    return ids.isEmpty() ? 0 : ids.split("\n").length;
  }

  private PodmanLevel podmanStats(int asked, int running, long startMillis, String note) throws Exception {
    String load = load();
    List<String> cmd = List.of("stats", "--no-stream", "--format", "json");
    for (int i = 0; i < 2; i++) {
      Thread.sleep(gapMillis);
      podman(cmd);
    }
    List<Long> wall = new ArrayList<>();
    List<Long> cpu = new ArrayList<>();
    int bytes = 0;
    for (int i = 0; i < scrapes; i++) {
      Thread.sleep(gapMillis);
      long c0 = childrenCpuMicros();
      long t0 = System.nanoTime();
      String json = podman(cmd);
      wall.add((System.nanoTime() - t0) / 1000);
      cpu.add(childrenCpuMicros() - c0);
      bytes = json.length();
      int shown = countOf(json, "\"id\"");
      if (shown != running) {
        throw new IllegalStateException("podman stats showed " + shown + " containers, not the " + running + " that run");
      }
    }
    System.err.printf("podman: %d containers: stats median %.1f ms%n", running,
        Percentiles.median(wall) / 1e3);
    return new PodmanLevel(asked, running, startMillis, wall, cpu, bytes, load, note);
  }

  private static int countOf(String s, String what) {
    int n = 0;
    for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  /** CPU time of this process's waited-for children (podman and what it ran), in µs. */
  private static long childrenCpuMicros() throws IOException {
    String stat = Files.readString(Path.of("/proc/self/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // cutime and cstime, fields 16 and 17 of proc(5).
    return (Long.parseLong(f[13]) + Long.parseLong(f[14])) * 10_000;
  }

  private String podman(List<String> rest) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(args.get("podman"));
    cmd.addAll(rest);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("CONTAINERS_CONF", args.get("podman-conf"));
    pb.environment().put("CONTAINERS_STORAGE_CONF", args.get("podman-storage-conf"));
    Process p = pb.start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    p.getInputStream().transferTo(out);
    int rc = p.waitFor();
    String text = out.toString(StandardCharsets.UTF_8);
    if (rc != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " exited with " + rc + ": " + text.strip());
    }
    return text;
  }

  private static String load() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException e) {
      return "?";
    }
  }

  // --- the report

  private String report(List<Level> levels, List<PodmanLevel> podman, String podmanError) {
    StringBuilder o = new StringBuilder();
    o.append("## GET /metrics of one berthd with N running containers\n\n");
    o.append("Client-side wall time from sending the request to the last byte of the body, over loopback; ")
        .append(scrapes).append(" scrapes of each kind after ").append(warmup)
        .append(" warm-up ones, each more than the 1 s reading cache after ")
        .append("the one before (").append(gapMillis).append(" ms gap), so every one paid a full reading of every ")
        .append("container. \"gzip\" is the request Prometheus sends (`Accept-Encoding: gzip`), \"plain\" the same ")
        .append("without compression. *collect* is berthd's own `berth_metrics_collect_seconds` for that scrape's reading ")
        .append("(cgroup files, `/proc/PID/net/dev` and the text of the per-container families); *agent CPU* is berthd's ")
        .append("user+system time over the request (10 ms ticks: its median is coarse).\n\n");
    o.append("| containers | request | p50 | p99 | max | collect p50 | collect max | agent CPU p50 | series (container_*) | body |\n");
    o.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Level l : levels) {
      o.append(row(l.count(), "gzip (Prometheus)", l.gzip()));
      o.append(row(l.count(), "plain", l.plain()));
    }
    o.append('\n');
    if (levels.size() > 1) {
      Level a = levels.get(0);
      Level b = levels.get(levels.size() - 1);
      double slope = (med(b.gzip(), Scrape::wallMicros) - med(a.gzip(), Scrape::wallMicros)) / (double) (b.count() - a.count());
      double collectSlope = (med(b.gzip(), Scrape::collectMicros) - med(a.gzip(), Scrape::collectMicros))
          / (double) (b.count() - a.count());
      o.append(String.format(Locale.ROOT, "Slope between %d and %d containers (gzip medians): %.1f µs of scrape per "
          + "container, %.1f µs of it in the reading.%n%n", a.count(), b.count(), slope, collectSlope));
    }
    o.append("Starting the containers (").append(parallel).append(" at a time through `Create` + `Start`, ")
        .append("`--network none`, memory ").append(args.getOrDefault("memory", "8m")).append("): ");
    List<String> starts = new ArrayList<>();
    int prev = 0;
    for (Level l : levels) {
      starts.add(String.format(Locale.ROOT, "%d → %d in %.1f s (1-minute load at the measurement %s)", prev, l.count(),
          l.startMillis() / 1e3, l.load()));
      prev = l.count();
    }
    o.append(String.join("; ", starts)).append(".\n\n");
    o.append("berthd's open descriptors while measuring: ").append(String.join("; ", levels.stream()
        .map(l -> l.agentFds() + " at " + l.count() + " containers").toList()))
        .append(" (a scrape keeps each running container's statistics files open: 7 cgroup v1 files and ")
        .append("/proc/PID/net/dev).\n\n");

    if (podmanError != null) {
      o.append("**The podman measurement failed** after measuring ").append(podman.size()).append(" count(s): ")
          .append(podmanError.replace('\n', ' ')).append("\n\n");
    }
    if (!podman.isEmpty()) {
      o.append("## The peer: `podman stats --no-stream --format json` over the same containers\n\n");
      o.append("podman reads every running container's cgroup statistics (through crun's cgroup library) and prints ")
          .append("them: the same work as a scrape, from a fresh process each time. ").append(scrapes)
          .append(" calls after 2 warm-up ones, the same gap; wall time of the process, and its CPU time (user+system, ")
          .append("all threads).\n\n");
      o.append("| containers | p50 | p99 | max | CPU p50 | JSON | Berth scrape p50 (gzip) | podman / Berth (p50) |\n");
      o.append("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
      for (PodmanLevel p : podman) {
        Level l = levels.stream().filter(x -> x.count() == p.running()).findFirst().orElse(null);
        long pm = Percentiles.median(p.wallMicros());
        String berth = l == null ? "not measured at this count" : ms(med(l.gzip(), Scrape::wallMicros));
        String ratio = l == null ? "" : String.format(Locale.ROOT, "%.1f×", pm / (double) med(l.gzip(), Scrape::wallMicros));
        o.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %d KiB | %s | %s |%n", p.running(), ms(pm),
            ms(Percentiles.pct(p.wallMicros(), 0.99)), ms(Collections.max(p.wallMicros())),
            ms(Percentiles.median(p.cpuMicros())), p.jsonBytes() / 1024, berth, ratio));
      }
      o.append('\n');
      o.append("Starting podman's containers (").append(parallel).append(" `podman run -d` at a time): ");
      List<String> ps = new ArrayList<>();
      int before = 0;
      for (PodmanLevel p : podman) {
        ps.add(String.format(Locale.ROOT, "%d → %d in %.1f s (1-minute load at the measurement %s)%s", before, p.running(),
            p.startMillis() / 1e3, p.load(), p.note().isEmpty() ? "" : " — " + p.note()));
        before = p.running();
      }
      o.append(String.join("; ", ps)).append(".\n\n");
      if (!failures.isEmpty()) {
        o.append("`podman run` failures while starting them:\n\n");
        failures.forEach(f -> o.append("- ").append(f.replace('\n', ' ')).append('\n'));
        o.append('\n');
      }
    }
    whatItShows(o, levels, podman);
    o.append("## Every scrape\n\nGzip then plain, in ms (wall / collect):\n\n");
    for (Level l : levels) {
      o.append("- ").append(l.count()).append(": ");
      List<String> each = new ArrayList<>();
      for (int i = 0; i < l.gzip().size(); i++) {
        each.add(String.format(Locale.ROOT, "%.0f/%.0f %.0f/%.0f", l.gzip().get(i).wallMicros() / 1e3,
            l.gzip().get(i).collectMicros() / 1e3, l.plain().get(i).wallMicros() / 1e3, l.plain().get(i).collectMicros() / 1e3));
      }
      o.append(String.join(", ", each)).append('\n');
    }
    for (PodmanLevel p : podman) {
      o.append("- podman ").append(p.running()).append(": ");
      o.append(String.join(", ", p.wallMicros().stream().map(w -> String.format(Locale.ROOT, "%.0f", w / 1e3)).toList()))
          .append('\n');
    }
    return o.toString();
  }

  /** The target the requirement sets: a scrape of an agent running 1,000 containers. */
  private static final long TARGET_MICROS = 100_000;
  private static final int TARGET_CONTAINERS = 1000;

  /** The verdict against the target, where the time goes, and the peer, from the figures above. */
  private void whatItShows(StringBuilder o, List<Level> levels, List<PodmanLevel> podman) {
    o.append("## What it shows\n\n");
    Level big = levels.get(levels.size() - 1);
    long p50 = med(big.gzip(), Scrape::wallMicros);
    long p99 = Percentiles.pct(big.gzip().stream().map(Scrape::wallMicros).toList(), 0.99);
    long collect = med(big.gzip(), Scrape::collectMicros);
    long cpu = med(big.plain(), Scrape::agentCpuMicros);
    if (big.count() < TARGET_CONTAINERS) {
      o.append("- The target (under 100 ms at 1,000 containers) was not measured: the largest count was ")
          .append(big.count()).append(".\n");
    } else {
      boolean met = p50 < TARGET_MICROS;
      o.append(String.format(Locale.ROOT, "- **Target, a scrape under 100 ms with %d containers: %s.** The median scrape "
          + "(gzip, as Prometheus asks) took %s, %s the target (%.2f× of it); p99 %s, the plain scrape's median %s.%n",
          big.count(), met ? (p99 < TARGET_MICROS ? "met" : "met at the median, not at p99") : "not met", ms(p50),
          met ? String.format(Locale.ROOT, "%.1f ms under", (TARGET_MICROS - p50) / 1e3)
              : String.format(Locale.ROOT, "%.1f ms over", (p50 - TARGET_MICROS) / 1e3),
          p50 / (double) TARGET_MICROS, ms(p99), ms(med(big.plain(), Scrape::wallMicros))));
    }
    o.append(String.format(Locale.ROOT, "- Where it goes: the per-container reading and its text took %s of the median "
        + "scrape (%.0f%%), %.0f µs per container; the rest (the agent's own and the JVM's meters through Micrometer, gzip, "
        + "HTTP) %s. berthd's CPU time per plain scrape, median: %s, on a host with %d CPUs.%n", ms(collect),
        100.0 * collect / p50, collect / (double) big.count(), ms(p50 - collect), ms(cpu),
        Runtime.getRuntime().availableProcessors()));
    o.append("- The host is shared: the 1-minute load average at each measurement is given above. On a host whose "
        + "CPUs are busy with other work a scrape waits for them; the CPU time is the steadier figure.\n");
    for (PodmanLevel p : podman) {
      Level l = levels.stream().filter(x -> x.count() == p.running()).findFirst().orElse(null);
      if (l != null && p.running() == big.count()) {
        long pm = Percentiles.median(p.wallMicros());
        o.append(String.format(Locale.ROOT, "- Against the peer at %d containers: `podman stats --no-stream` took %s "
            + "(median), %.1f× Berth's scrape; podman's CPU time %s per call against berthd's %s.%n", p.running(), ms(pm),
            pm / (double) p50, ms(Percentiles.median(p.cpuMicros())), ms(cpu)));
      }
    }
    o.append('\n');
  }

  private static String row(int n, String kind, List<Scrape> s) {
    Scrape last = s.get(s.size() - 1);
    return String.format(Locale.ROOT, "| %d | %s | %s | %s | %s | %s | %s | %s | %d (%d) | %d KiB (%d KiB of text) |%n", n, kind,
        ms(med(s, Scrape::wallMicros)), ms(Percentiles.pct(s.stream().map(Scrape::wallMicros).toList(), 0.99)),
        ms(s.stream().mapToLong(Scrape::wallMicros).max().orElse(0)), ms(med(s, Scrape::collectMicros)),
        ms(s.stream().mapToLong(Scrape::collectMicros).max().orElse(0)), ms(med(s, Scrape::agentCpuMicros)),
        last.series(), last.containerSeries(), last.wireBytes() / 1024, last.textBytes() / 1024);
  }

  private static long med(List<Scrape> s, java.util.function.ToLongFunction<Scrape> f) {
    return Percentiles.median(s.stream().map(x -> f.applyAsLong(x)).toList());
  }

  private static String ms(long micros) {
    return String.format(Locale.ROOT, "%.1f ms", micros / 1e3);
  }
}
