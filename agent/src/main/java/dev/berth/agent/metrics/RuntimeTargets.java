package dev.berth.agent.metrics;

import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The runtime's containers as metric targets. */
public final class RuntimeTargets {
  private RuntimeTargets() {}

  /** Every container of the runtime, running or not. */
  public static List<ContainerTarget> all(ContainerRuntime runtime) {
    return runtime.list(true).stream().map(RuntimeTargets::of).toList();
  }

  public static ContainerTarget of(ContainerView v) {
    ContainerState s = v.state();
    return new ContainerTarget(v.id(), v.config().name(), v.config().image(),
        v.config().labels().getOrDefault(ContainerTarget.JOB_LABEL, ""), v.cgroupPath(), s.running(), s.running() ? s.pid() : 0,
        s.startedAt(), s.oomKilled(), v.config().cpuQuotaMicros(), v.config().cpuPeriodMicros(),
        v.config().memoryBytes(), v.config().pidsLimit(), s.restartCount());
  }

  /** The runtime's containers counted by state, as lower-case names. */
  public static Map<String, Long> countByState(ContainerRuntime runtime) {
    Map<ContainerState.Status, Long> counts = new EnumMap<>(ContainerState.Status.class);
    for (ContainerView v : runtime.list(true)) {
      counts.merge(v.state().status(), 1L, Long::sum);
    }
    Map<String, Long> out = new LinkedHashMap<>();
    counts.forEach((k, n) -> out.put(k.name().toLowerCase(Locale.ROOT), n));
    return out;
  }
}
