package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.image.ImageConfig;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.Reference;
import dev.berth.agent.runtime.ContainerConfig;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.CreateRequest;
import dev.berth.agent.runtime.MountSpec;
import dev.berth.agent.runtime.net.Endpoint;
import dev.berth.agent.runtime.net.PortMapping;
import dev.berth.agent.task.HealthResult;
import dev.berth.agent.task.HealthState;
import dev.berth.agent.task.Supervision;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.Health;
import dev.berth.proto.v1.HealthLogEntry;
import dev.berth.proto.v1.HealthStatus;
import dev.berth.proto.v1.RestartPolicy;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.LogConfig;
import dev.berth.proto.v1.Mount;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.Resources;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** Maps between the gRPC messages and the domain records, both ways, in one place. */
public final class ProtoMapper {
  private ProtoMapper() {}

  public static CreateRequest createRequest(ContainerSpec s) {
    return new CreateRequest(s.getImage(), s.getName(), s.getEntrypointList(), s.getEntrypointSet(), s.getCmdList(),
        s.getEnvList(), s.getWorkingDir(), s.getUser(), s.getHostname(), s.getResources().getMemory(),
        s.getResources().getCpus(), s.getResources().getPidsLimit(), s.getTty(), s.getOpenStdin(), s.getAutoRemove(),
        s.getSecurityOptList(), s.getLabelsMap(), s.getLogConfig().getMaxSize(), s.getLogConfig().getMaxFile(),
        s.getStopSignal(), s.getStopTimeout(), s.getMountsList().stream().map(ProtoMapper::mount).toList(),
        s.getNetworkMode(), s.getPortsList().stream().map(ProtoMapper::port).toList(), s.getPublishAll(),
        s.getNetworkAliasesList(), s.getRestartPolicy().getName(), s.getRestartPolicy().getMaxRetries(),
        s.hasHealthcheck() ? healthcheck(s.getHealthcheck()) : null);
  }

  /** A HealthConfig; {@code disabled} is the test ["NONE"], as Docker stores --no-healthcheck. */
  static Healthcheck healthcheck(HealthConfig h) {
    if (h.getDisabled()) {
      return Healthcheck.NONE;
    }
    return new Healthcheck(h.getTestList(), Duration.ofNanos(h.getIntervalNanos()), Duration.ofNanos(h.getTimeoutNanos()),
        Duration.ofNanos(h.getStartPeriodNanos()), h.getRetries());
  }

  static HealthConfig healthcheck(Healthcheck h) {
    HealthConfig.Builder b = HealthConfig.newBuilder().setIntervalNanos(h.interval().toNanos())
        .setTimeoutNanos(h.timeout().toNanos()).setStartPeriodNanos(h.startPeriod().toNanos()).setRetries(h.retries());
    if (h.disabled()) {
      b.setDisabled(true);
    } else {
      b.addAllTest(h.test());
    }
    return b.build();
  }

  static Health health(HealthState h) {
    Health.Builder b = Health.newBuilder().setFailingStreak(h.failingStreak()).setStatus(switch (h.status()) {
      case STARTING -> HealthStatus.HEALTH_STARTING;
      case HEALTHY -> HealthStatus.HEALTH_HEALTHY;
      case UNHEALTHY -> HealthStatus.HEALTH_UNHEALTHY;
    });
    for (HealthResult r : h.log()) {
      b.addLog(HealthLogEntry.newBuilder().setStartUnixNanos(nanos(r.start())).setEndUnixNanos(nanos(r.end()))
          .setExitCode(r.exitCode()).setOutput(r.output()));
    }
    return b.build();
  }

  /** A -p mapping; an unknown protocol is refused with the mapping named. */
  static PortMapping port(PortBinding p) {
    PortMapping.Protocol proto = switch (p.getProtocol()) {
      case "", "tcp" -> PortMapping.Protocol.TCP;
      case "udp" -> PortMapping.Protocol.UDP;
      default -> throw BerthException.invalid("invalid protocol \"" + p.getProtocol() + "\" for port "
          + p.getContainerPort() + ": tcp or udp");
    };
    return new PortMapping(proto, p.getHostIp(), p.getHostPort(), p.getContainerPort());
  }

  static PortBinding port(PortMapping p) {
    return PortBinding.newBuilder().setProtocol(p.protocol().keyword()).setHostIp(p.hostIp())
        .setHostPort(p.hostPort()).setContainerPort(p.containerPort()).build();
  }

  static MountSpec mount(Mount m) {
    MountSpec.Type type = switch (m.getType()) {
      case BIND -> MountSpec.Type.BIND;
      case TMPFS -> MountSpec.Type.TMPFS;
      default -> MountSpec.Type.VOLUME;
    };
    return new MountSpec(type, m.getSource(), m.getTarget(), m.getReadOnly(), m.getTmpfsSizeBytes(), m.getTmpfsMode(),
        m.getCreateHostPath(), m.getNoCopy());
  }

  static Mount mount(MountSpec m) {
    Mount.Type type = switch (m.type()) {
      case BIND -> Mount.Type.BIND;
      case TMPFS -> Mount.Type.TMPFS;
      case VOLUME -> Mount.Type.VOLUME;
    };
    return Mount.newBuilder().setType(type).setSource(m.source()).setTarget(m.target()).setReadOnly(m.readOnly())
        .setTmpfsSizeBytes(m.tmpfsSizeBytes()).setTmpfsMode(m.tmpfsMode()).setCreateHostPath(m.createHostPath())
        .setNoCopy(m.noCopy()).build();
  }

  public static ContainerSpec spec(CreateRequest r) {
    ContainerSpec.Builder b = ContainerSpec.newBuilder()
        .setImage(r.image()).setName(r.name()).addAllEntrypoint(r.entrypoint()).setEntrypointSet(r.entrypointSet())
        .addAllCmd(r.cmd()).addAllEnv(r.env()).setWorkingDir(r.workingDir()).setUser(r.user())
        .setHostname(r.hostname())
        .setResources(Resources.newBuilder().setMemory(r.memory()).setCpus(r.cpus()).setPidsLimit(r.pidsLimit()))
        .setTty(r.tty()).setOpenStdin(r.openStdin()).setAutoRemove(r.autoRemove())
        .addAllSecurityOpt(r.securityOpt()).putAllLabels(r.labels())
        .setLogConfig(LogConfig.newBuilder().setMaxSize(r.logMaxSize()).setMaxFile(r.logMaxFile()))
        .setStopSignal(r.stopSignal()).setStopTimeout(r.stopTimeout())
        .addAllMounts(r.mounts().stream().map(ProtoMapper::mount).toList())
        .setNetworkMode(r.networkMode())
        .addAllPorts(r.ports().stream().map(ProtoMapper::port).toList())
        .setPublishAll(r.publishAll())
        .addAllNetworkAliases(r.networkAliases());
    if (!r.restartPolicy().isEmpty() || r.restartMaxRetries() != 0) {
      b.setRestartPolicy(RestartPolicy.newBuilder().setName(r.restartPolicy()).setMaxRetries(r.restartMaxRetries()));
    }
    if (r.healthcheck() != null) {
      b.setHealthcheck(healthcheck(r.healthcheck()));
    }
    return b.build();
  }

  public static Container container(ContainerView v) {
    return container(v, Supervision.NONE);
  }

  /** The container with what its supervisor knows: whether it is restarting, and its health. */
  public static Container container(ContainerView v, Supervision tasks) {
    ContainerConfig c = v.config();
    ContainerState s = v.state();
    Container.Builder b = Container.newBuilder()
        .setId(c.id()).setName(c.name()).setImage(c.image()).setImageId(c.imageId())
        .setSpec(spec(c.request()))
        .addAllPathAndArgs(c.args()).addAllEnv(c.env()).setWorkingDir(c.workingDir()).setUser(c.user())
        .setHostname(c.hostname())
        .setStatus(status(s.status()))
        .setPid(s.pid()).setExitCode(s.exitCode()).setOomKilled(s.oomKilled()).setError(s.error())
        .setExitUnknown(s.exitUnknown())
        .setCreatedAtUnixNanos(nanos(c.created())).setStartedAtUnixNanos(nanos(s.startedAt()))
        .setFinishedAtUnixNanos(nanos(s.finishedAt()))
        .setMemoryLimitBytes(c.memoryBytes()).setCpuQuotaMicros(c.cpuQuotaMicros())
        .setCpuPeriodMicros(c.cpuPeriodMicros()).setPidsLimit(c.pidsLimit())
        .setCgroupPath(v.cgroupPath()).setLogPath(v.logPath().toString())
        .putAllLabels(c.labels())
        .addAllMounts(c.mounts().stream().map(ProtoMapper::mount).toList())
        .setCommand(command(c.args()))
        .setRestartCount(s.restartCount())
        .setRestarting(!s.running() && tasks.restarting(c.id()));
    if (c.healthcheck() != null) {
      b.setHealthcheck(healthcheck(c.healthcheck()));
      if (c.healthcheck().enabled()) {
        tasks.health(c.id()).ifPresent(h -> b.setHealth(health(h)));
      }
    }
    if (s.running()) {
      b.setRootfs(v.rootfs().toString());
    }
    NetworkSettings.Builder n = NetworkSettings.newBuilder().setNetwork(c.network()).setNetworkId(c.networkId())
        .addAllPorts(c.ports().stream().map(ProtoMapper::port).toList());
    Endpoint e = v.endpoint();
    if (e != null) {
      n.setIpAddress(e.ipAddress()).setIpPrefixLen(e.prefixLength()).setGateway(e.gateway())
          .setMacAddress(e.macAddress()).setBridge(e.bridge()).addAllAliases(e.names());
    }
    return b.setNetwork(n).build();
  }

  static String command(List<String> args) {
    StringBuilder b = new StringBuilder();
    for (String a : args) {
      if (b.length() > 0) {
        b.append(' ');
      }
      b.append(a.isEmpty() || a.chars().anyMatch(ch -> ch == ' ' || ch == '"' || ch == '\'') ? '"' + a.replace("\"", "\\\"") + '"' : a);
    }
    return b.toString();
  }

  private static ContainerStatus status(ContainerState.Status s) {
    return switch (s) {
      case CREATED -> ContainerStatus.CREATED;
      case RUNNING -> ContainerStatus.RUNNING;
      case EXITED -> ContainerStatus.EXITED;
      case REMOVING -> ContainerStatus.REMOVING;
    };
  }

  public static long nanos(Instant t) {
    return t == null ? 0 : t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  public static Image image(ImageRecord r) {
    ImageConfig c = r.config();
    dev.berth.proto.v1.ImageConfig.Builder cb = dev.berth.proto.v1.ImageConfig.newBuilder()
        .addAllEntrypoint(nn(c.entrypoint())).addAllCmd(nn(c.cmd())).addAllEnv(nn(c.env()))
        .setWorkingDir(str(c.workingDir())).setUser(str(c.user())).setStopSignal(str(c.stopSignal()))
        .addAllExposedPorts(nn(c.exposedPorts())).addAllVolumes(nn(c.volumes()));
    if (c.labels() != null) {
      cb.putAllLabels(c.labels());
    }
    return Image.newBuilder()
        .setId(r.id()).addAllRepoTags(r.repoTags().stream().map(t -> Reference.parse(t).familiar()).toList())
        .addAllRepoDigests(r.repoDigests().stream().map(ProtoMapper::familiarDigest).toList()).setSizeBytes(r.sizeBytes())
        .setCreatedUnixNanos(nanos(r.created())).addAllLayers(r.diffIds()).setConfig(cb)
        .setOs(str(r.os())).setArchitecture(str(r.architecture()))
        .build();
  }

  /** name@sha256:… in the short form Docker shows: the repository familiar, the digest as is. */
  private static String familiarDigest(String repoDigest) {
    int at = repoDigest.indexOf('@');
    if (at < 0) {
      return repoDigest;
    }
    String familiar = Reference.parse(repoDigest.substring(0, at)).familiar();
    return familiar.substring(0, familiar.lastIndexOf(':')) + repoDigest.substring(at);
  }

  private static List<String> nn(List<String> l) {
    return l == null ? List.of() : l;
  }

  private static String str(String s) {
    return s == null ? "" : s;
  }
}
