package dev.berth.agent.events;

import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.task.HealthListener;
import dev.berth.agent.task.HealthState;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * This host's containers' events, as Docker names them: create, start, restart (by the restart
 * policy, before its start), oom and die (with the exit code; also for a run that ended while no
 * agent ran, recorded when the next one starts), "health_status: healthy" or
 * "unhealthy", destroy. Hears the runtime ({@link ContainerEvents}) and the supervisor's health
 * checks ({@link HealthListener}).
 *
 * <p>Thread-safe and quick, as both callers require: it only records. It remembers each
 * container's name and image (from any event of it), for the events that carry only the id.
 */
public final class ContainerRecorder implements ContainerEvents, HealthListener {
  private record Known(String name, String image) {}

  private final String node;
  private final EventSink sink;
  private final Map<String, Known> known = new ConcurrentHashMap<>();

  /** @param node this agent's node name, where the events happen */
  public ContainerRecorder(String node, EventSink sink) {
    this.node = node;
    this.sink = sink;
  }

  @Override
  public void created(ContainerView v) {
    record(v, "create", Map.of());
  }

  @Override
  public void started(ContainerView v, Start cause) {
    if (cause == Start.POLICY) {
      record(v, "restart", Map.of("restartCount", String.valueOf(v.state().restartCount())));
    }
    record(v, "start", Map.of());
  }

  @Override
  public void exited(ContainerView v) {
    died(v, Map.of());
  }

  /**
   * Recorded when the next agent starts, so after events that happened in between; the
   * attributes say when it really ended.
   */
  @Override
  public void endedWhileAway(ContainerView v) {
    Map<String, String> more = new LinkedHashMap<>();
    more.put("whileAgentDown", "true");
    if (v.state().finishedAt() != null) {
      more.put("finishedAt", v.state().finishedAt().toString());
    }
    died(v, more);
  }

  private void died(ContainerView v, Map<String, String> more) {
    ContainerState s = v.state();
    if (s.oomKilled()) {
      record(v, "oom", more);
    }
    Map<String, String> attrs = new LinkedHashMap<>(more);
    attrs.put("exitCode", String.valueOf(s.exitCode()));
    if (!s.error().isEmpty()) {
      attrs.put("error", s.error());
    }
    record(v, "die", attrs);
  }

  @Override
  public void adopted(ContainerView v) {
    remember(v);
  }

  @Override
  public void removed(String id) {
    Known k = known.remove(id);
    sink.record(Event.of(Event.CONTAINER, "destroy", id, k == null ? "" : k.name(), node, attrs(k, Map.of())));
  }

  @Override
  public void healthChanged(String containerId, HealthState previous, HealthState current) {
    if (current == null || current.status() == HealthState.Status.STARTING) {
      return;  // Docker reports a run's health once a check has decided it
    }
    Known k = known.get(containerId);
    sink.record(Event.of(Event.CONTAINER, "health_status: " + current.status().word(), containerId,
        k == null ? "" : k.name(), node, attrs(k, Map.of())));
  }

  private void record(ContainerView v, String action, Map<String, String> more) {
    Known k = remember(v);
    sink.record(Event.of(Event.CONTAINER, action, v.id(), k.name(), node, attrs(k, more)));
  }

  private Known remember(ContainerView v) {
    Known k = new Known(v.config().name(), v.config().image());
    known.put(v.id(), k);
    return k;
  }

  private static Map<String, String> attrs(Known k, Map<String, String> more) {
    Map<String, String> a = new LinkedHashMap<>(more);
    if (k != null) {
      a.put("image", k.image());
    }
    return a;
  }
}
