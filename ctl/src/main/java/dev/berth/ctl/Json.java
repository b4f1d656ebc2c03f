package dev.berth.ctl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.Health;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.HealthLogEntry;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageConfig;
import dev.berth.proto.v1.Mount;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * JSON as docker prints it: inspect's documents with docker's field names (mapped by hand, since
 * protobuf-java-util is not available), pretty-printed with four-space indents.
 */
final class Json {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final ObjectWriter PRETTY = MAPPER.writer(new DefaultPrettyPrinter(
      Separators.createDefaultInstance()
          .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
          .withObjectEmptySeparator("")
          .withArrayEmptySeparator(""))
      .withObjectIndenter(new DefaultIndenter("    ", "\n"))
      .withArrayIndenter(new DefaultIndenter("    ", "\n")));

  private Json() {
  }

  static String compact(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  static String pretty(Object value) {
    try {
      return PRETTY.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  static ArrayNode array() {
    return NODES.arrayNode();
  }

  static ObjectNode object() {
    return NODES.objectNode();
  }

  static ArrayNode strings(List<String> values) {
    ArrayNode a = NODES.arrayNode();
    values.forEach(a::add);
    return a;
  }

  static ObjectNode stringMap(Map<String, String> m) {
    ObjectNode o = NODES.objectNode();
    new TreeMap<>(m).forEach(o::put);
    return o;
  }

  /** A Container the way `docker inspect` shows one. */
  static ObjectNode container(Container c) {
    ContainerSpec spec = c.getSpec();
    ObjectNode o = NODES.objectNode();
    o.put("Id", c.getId());
    o.put("Created", Format.rfc3339(c.getCreatedAtUnixNanos(), false));
    List<String> argv = c.getPathAndArgsList();
    o.put("Path", argv.isEmpty() ? "" : argv.get(0));
    o.set("Args", strings(argv.isEmpty() ? List.of() : argv.subList(1, argv.size())));
    ObjectNode state = o.putObject("State");
    state.put("Status", Format.state(c));
    // docker counts a restarting container as running (its Pid is 0 meanwhile)
    state.put("Running", c.getStatus() == dev.berth.proto.v1.ContainerStatus.RUNNING || c.getRestarting());
    state.put("Paused", false);
    state.put("Restarting", c.getRestarting());
    state.put("OOMKilled", c.getOomKilled());
    state.put("Dead", false);
    state.put("Pid", c.getPid());
    state.put("ExitCode", c.getExitCode());
    state.put("Error", c.getError());
    state.put("StartedAt", Format.rfc3339(c.getStartedAtUnixNanos(), false));
    state.put("FinishedAt", Format.rfc3339(c.getFinishedAtUnixNanos(), false));
    state.put("ExitUnknown", c.getExitUnknown());
    if (c.hasHealth()) {
      state.set("Health", health(c.getHealth()));
    }
    o.put("Image", c.getImageId());
    o.put("LogPath", c.getLogPath());
    o.put("Name", "/" + c.getName());
    o.put("RestartCount", c.getRestartCount());
    o.set("Mounts", mounts(c.getMountsList()));
    ObjectNode host = o.putObject("HostConfig");
    ObjectNode log = host.putObject("LogConfig");
    log.put("Type", "json-file");
    ObjectNode logOpts = log.putObject("Config");
    if (!spec.getLogConfig().getMaxSize().isEmpty()) {
      logOpts.put("max-size", spec.getLogConfig().getMaxSize());
    }
    if (spec.getLogConfig().getMaxFile() != 0) {
      logOpts.put("max-file", Integer.toString(spec.getLogConfig().getMaxFile()));
    }
    host.put("NetworkMode", spec.getNetworkMode().isEmpty() ? "bridge" : spec.getNetworkMode());
    host.set("PortBindings", NetworkCommands.portMap(spec.getPortsList(), true));
    host.put("PublishAllPorts", spec.getPublishAll());
    ObjectNode restart = host.putObject("RestartPolicy");
    restart.put("Name", spec.getRestartPolicy().getName().isEmpty() ? "no" : spec.getRestartPolicy().getName());
    restart.put("MaximumRetryCount", spec.getRestartPolicy().getMaxRetries());
    host.put("AutoRemove", spec.getAutoRemove());
    host.set("SecurityOpt", spec.getSecurityOptCount() == 0 ? null : strings(spec.getSecurityOptList()));
    host.put("Memory", c.getMemoryLimitBytes());
    host.put("NanoCpus", c.getCpuPeriodMicros() > 0 ? c.getCpuQuotaMicros() * 1_000_000_000L / c.getCpuPeriodMicros() : 0);
    host.put("CpuPeriod", c.getCpuPeriodMicros());
    host.put("CpuQuota", c.getCpuQuotaMicros());
    host.put("PidsLimit", c.getPidsLimit());
    host.put("CgroupParent", c.getCgroupPath());
    ObjectNode config = o.putObject("Config");
    config.put("Hostname", c.getHostname());
    config.put("User", c.getUser());
    config.put("Tty", spec.getTty());
    config.put("OpenStdin", spec.getOpenStdin());
    config.set("Env", strings(c.getEnvList()));
    config.set("Cmd", spec.getCmdCount() == 0 ? null : strings(spec.getCmdList()));
    if (c.hasHealthcheck()) {
      config.set("Healthcheck", healthcheck(c.getHealthcheck()));
    }
    config.put("Image", c.getImage());
    config.put("WorkingDir", c.getWorkingDir());
    config.set("Entrypoint", spec.getEntrypointSet() ? strings(spec.getEntrypointList()) : null);
    config.set("Labels", stringMap(c.getLabelsMap()));
    if (!spec.getStopSignal().isEmpty()) {
      config.put("StopSignal", spec.getStopSignal());
    }
    if (spec.getStopTimeout() != 0) {
      config.put("StopTimeout", spec.getStopTimeout());
    }
    o.set("NetworkSettings", NetworkCommands.settings(c));
    ObjectNode berth = o.putObject("Berth");
    berth.put("Command", c.getCommand());
    berth.put("Rootfs", c.getRootfs());
    berth.put("CgroupPath", c.getCgroupPath());
    return o;
  }

  /** State.Health as docker's inspect shows it. */
  static ObjectNode health(Health h) {
    ObjectNode o = NODES.objectNode();
    o.put("Status", switch (h.getStatus()) {
      case HEALTH_STARTING -> "starting";
      case HEALTH_HEALTHY -> "healthy";
      case HEALTH_UNHEALTHY -> "unhealthy";
      default -> "none";
    });
    o.put("FailingStreak", h.getFailingStreak());
    ArrayNode log = o.putArray("Log");
    for (HealthLogEntry e : h.getLogList()) {
      ObjectNode r = log.addObject();
      r.put("Start", Format.rfc3339(e.getStartUnixNanos(), false));
      r.put("End", Format.rfc3339(e.getEndUnixNanos(), false));
      r.put("ExitCode", e.getExitCode());
      r.put("Output", e.getOutput());
    }
    return o;
  }

  /** Config.Healthcheck as docker's inspect shows it: durations in nanoseconds, unset fields left out. */
  static ObjectNode healthcheck(HealthConfig h) {
    ObjectNode o = NODES.objectNode();
    o.set("Test", strings(h.getDisabled() ? List.of("NONE") : h.getTestList()));
    if (h.getIntervalNanos() != 0) {
      o.put("Interval", h.getIntervalNanos());
    }
    if (h.getTimeoutNanos() != 0) {
      o.put("Timeout", h.getTimeoutNanos());
    }
    if (h.getStartPeriodNanos() != 0) {
      o.put("StartPeriod", h.getStartPeriodNanos());
    }
    if (h.getRetries() != 0) {
      o.put("Retries", h.getRetries());
    }
    return o;
  }

  /**
   * Mounts as docker's inspect lists them. A volume's Source is its host directory in docker;
   * Container.mounts has only its name, so Source stays empty for volumes.
   */
  static ArrayNode mounts(List<Mount> mounts) {
    ArrayNode a = NODES.arrayNode();
    for (Mount m : mounts) {
      ObjectNode o = a.addObject();
      switch (m.getType()) {
        case BIND -> {
          o.put("Type", "bind");
          o.put("Source", m.getSource());
        }
        case TMPFS -> {
          o.put("Type", "tmpfs");
          o.put("Source", "");
        }
        default -> {
          o.put("Type", "volume");
          o.put("Name", m.getSource());
          o.put("Source", "");
        }
      }
      o.put("Destination", m.getTarget());
      if (m.getType() == Mount.Type.VOLUME) {
        o.put("Driver", VolumeCommands.DRIVER);
      }
      o.put("Mode", "");
      o.put("RW", !m.getReadOnly());
      o.put("Propagation", m.getType() == Mount.Type.BIND ? "rprivate" : "");
    }
    return a;
  }

  /** An Image the way `docker image inspect` shows one. */
  static ObjectNode image(Image i) {
    ImageConfig cfg = i.getConfig();
    ObjectNode o = NODES.objectNode();
    o.put("Id", i.getId());
    o.set("RepoTags", strings(i.getRepoTagsList()));
    o.put("Created", Format.rfc3339(i.getCreatedUnixNanos(), false));
    o.put("Size", i.getSizeBytes());
    o.put("Os", i.getOs());
    o.put("Architecture", i.getArchitecture());
    ObjectNode config = o.putObject("Config");
    config.put("User", cfg.getUser());
    config.set("Env", cfg.getEnvCount() == 0 ? null : strings(cfg.getEnvList()));
    config.set("Cmd", cfg.getCmdCount() == 0 ? null : strings(cfg.getCmdList()));
    config.set("Entrypoint", cfg.getEntrypointCount() == 0 ? null : strings(cfg.getEntrypointList()));
    config.put("WorkingDir", cfg.getWorkingDir());
    config.set("Labels", cfg.getLabelsCount() == 0 ? null : stringMap(cfg.getLabelsMap()));
    if (!cfg.getStopSignal().isEmpty()) {
      config.put("StopSignal", cfg.getStopSignal());
    }
    if (cfg.getExposedPortsCount() > 0) {
      ObjectNode ports = config.putObject("ExposedPorts");
      cfg.getExposedPortsList().forEach(ports::putObject);
    }
    if (cfg.getVolumesCount() > 0) {
      ObjectNode volumes = config.putObject("Volumes");
      cfg.getVolumesList().forEach(volumes::putObject);
    }
    ObjectNode rootfs = o.putObject("RootFS");
    rootfs.put("Type", "layers");
    rootfs.set("Layers", strings(i.getLayersList()));
    return o;
  }

  /**
   * docker's inspect of several things: each one looked up in turn, a missing one reported as
   * an error as it happens, then the pretty JSON array of those found; 1 if any was missing.
   */
  static int inspectAll(BaseCommand command, List<String> refs, java.util.function.Function<String, com.fasterxml.jackson.databind.JsonNode> lookup) {
    ArrayNode found = array();
    int code = command.each(refs, ref -> found.add(lookup.apply(ref)));
    command.cli.out.println(pretty(found));
    return code;
  }
}
