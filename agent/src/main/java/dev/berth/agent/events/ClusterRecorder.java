package dev.berth.agent.events;

import dev.berth.agent.cluster.Member;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.jobs.JobStore;
import dev.berth.agent.jobs.SchedulingLoop;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The cluster's events, recorded by the agent that leads the scheduler, so that each is recorded
 * once: nodes going up, suspect and down (as the membership's liveness view changes) and drained;
 * jobs registered, stopped and purged, and their rollouts ending; allocations placed (with the one
 * they replace, if any), rescheduled (placed again for a replica whose last allocation was lost
 * or failed), lost, stopped and failed.
 *
 * <p>Job and allocation events come from the difference between what two scheduler rounds left
 * ({@link SchedulingLoop.Listener#observed}): they carry the time the leader saw them, within a
 * round (a second) of the write. A new leader takes its first round as the baseline, so what
 * changed while no agent led is not reported.
 *
 * <p>Threading: the scheduler calls on its one thread, the membership on Atomix's event thread;
 * both only record.
 */
public final class ClusterRecorder implements SchedulingLoop.Listener, Consumer<Member> {
  private final String self;
  private final EventSink sink;
  private final Map<String, MemberState> nodes = new HashMap<>();
  private volatile boolean leading;
  /** What the last round left; null until the first round of this leadership. Scheduler thread only. */
  private Snapshot last;

  /** @param self this agent's node name: where job events happen */
  public ClusterRecorder(String self, EventSink sink) {
    this.self = self;
    this.sink = sink;
  }

  /** Jobs by name and allocations by id, as one round left them. */
  record Snapshot(Map<String, StoredJob> jobs, Map<String, StoredAllocation> allocations) {
    static Snapshot of(List<StoredJob> jobs, Map<String, JobStore.NodeAllocations> allocations) {
      Map<String, StoredJob> j = new LinkedHashMap<>();
      jobs.forEach(x -> j.put(x.getName(), x));
      Map<String, StoredAllocation> a = new LinkedHashMap<>();
      allocations.values().forEach(n -> n.allocations().forEach(x -> a.put(x.getId(), x)));
      return new Snapshot(j, a);
    }
  }

  @Override
  public void leading(boolean leader) {
    leading = leader;
    last = null;
  }

  @Override
  public void observed(List<StoredJob> jobs, Map<String, JobStore.NodeAllocations> allocations) {
    Snapshot now = Snapshot.of(jobs, allocations);
    if (leading && last != null) {
      diff(self, last, now).forEach(sink::record);
    }
    last = now;
  }

  /** A drain ended: the node holds nothing any more. */
  @Override
  public void drained(String node) {
    if (leading) {
      sink.record(Event.of(Event.NODE, "drained", node, node, node, Map.of()));
    }
  }

  /** A job version's rollout ended: {@code rollout: successful}, {@code failed} or {@code reverted}. */
  @Override
  public void rollout(String job, long version, String state, String message) {
    if (leading) {
      Map<String, String> attrs = new LinkedHashMap<>();
      attrs.put("version", String.valueOf(version));
      if (!message.isEmpty()) {
        attrs.put("message", message);
      }
      sink.record(Event.of(Event.JOB, "rollout: " + state, job, job, self, attrs));
    }
  }

  /** A member's new view: a node event when its liveness changed, recorded by the leader only. */
  @Override
  public void accept(Member m) {
    MemberState before;
    synchronized (nodes) {
      before = nodes.put(m.name(), m.state());
    }
    if (before == m.state() || (before == null && m.state() != MemberState.ALIVE) || !leading) {
      return;
    }
    String action = switch (m.state()) {
      case ALIVE -> "up";
      case SUSPECT -> "suspect";
      case DOWN -> "down";
    };
    Map<String, String> attrs = new LinkedHashMap<>();
    attrs.put("role", m.role().name().toLowerCase(Locale.ROOT));
    if (!m.address().isEmpty()) {
      attrs.put("address", m.address());
    }
    if (before != null) {
      attrs.put("previous", before.name().toLowerCase(Locale.ROOT));
    }
    sink.record(Event.of(Event.NODE, action, m.name(), m.name(), m.name(), attrs));
  }

  /** The events between two rounds: jobs, then what befell known allocations, then new ones. Pure. */
  static List<Event> diff(String self, Snapshot before, Snapshot after) {
    List<Event> out = new ArrayList<>();
    for (StoredJob j : after.jobs().values()) {
      StoredJob b = before.jobs().get(j.getName());
      Map<String, String> attrs = Map.of("version", String.valueOf(j.getVersion()));
      if (b == null || (j.getVersion() > b.getVersion() && !j.getStopped())) {
        out.add(Event.of(Event.JOB, "registered", j.getName(), j.getName(), self, attrs));
      } else if (j.getStopped() && !b.getStopped()) {
        out.add(Event.of(Event.JOB, "stopped", j.getName(), j.getName(), self, attrs));
      }
    }
    for (StoredJob b : before.jobs().values()) {
      if (!after.jobs().containsKey(b.getName())) {
        out.add(Event.of(Event.JOB, "purged", b.getName(), b.getName(), self, Map.of()));
      }
    }
    // Each replica's allocation known before, as it is now (it may have been marked lost in the
    // very round that placed its successor).
    Map<String, StoredAllocation> previous = new HashMap<>();
    for (StoredAllocation b : before.allocations().values()) {
      StoredAllocation now = after.allocations().getOrDefault(b.getId(), b);
      previous.merge(replica(now), now, (x, y) -> x.getGeneration() >= y.getGeneration() ? x : y);
    }
    // What happened to allocations known before, then the new ones (a replacement after its loss).
    for (StoredAllocation a : after.allocations().values()) {
      StoredAllocation b = before.allocations().get(a.getId());
      if (b == null) {
        continue;
      }
      if (a.getState() != b.getState() && a.getState() == AllocationState.ALLOCATION_LOST_VALUE) {
        Map<String, String> attrs = attrs(a);
        attrs.put("reason", a.getMessage());
        out.add(allocation("lost", a, attrs));
      } else if (a.getState() != b.getState() && a.getState() == AllocationState.ALLOCATION_FAILED_VALUE) {
        Map<String, String> attrs = attrs(a);
        attrs.put("reason", a.getMessage());
        out.add(allocation("failed", a, attrs));
      } else if (a.getDesiredStop() && !b.getDesiredStop()) {
        Map<String, String> attrs = attrs(a);
        attrs.put("reason", a.getDesiredReason());
        out.add(allocation("stop", a, attrs));
      }
    }
    for (StoredAllocation a : after.allocations().values()) {
      if (!before.allocations().containsKey(a.getId())) {
        // The one it took over from, as the scheduler recorded it; else the replica's latest known.
        StoredAllocation prior = !a.getPreviousAllocation().isEmpty()
            ? after.allocations().getOrDefault(a.getPreviousAllocation(), before.allocations().get(a.getPreviousAllocation()))
            : previous.get(replica(a));
        boolean replaces = prior != null && prior.getGeneration() < a.getGeneration()
            && (prior.getState() == AllocationState.ALLOCATION_LOST_VALUE
                || prior.getState() == AllocationState.ALLOCATION_FAILED_VALUE);
        Map<String, String> attrs = attrs(a);
        if (prior != null && prior.getGeneration() < a.getGeneration()) {
          attrs.put("previousNode", prior.getNode());
          attrs.put("previousAllocation", prior.getId());
        }
        out.add(allocation(replaces ? "rescheduled" : "placed", a, attrs));
      }
    }
    return out;
  }

  private static Event allocation(String action, StoredAllocation a, Map<String, String> attrs) {
    return Event.of(Event.ALLOCATION, action, a.getId(), a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "]",
        a.getNode(), attrs);
  }

  private static Map<String, String> attrs(StoredAllocation a) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("job", a.getJob());
    m.put("group", a.getGroup());
    m.put("index", String.valueOf(a.getIndex()));
    m.put("generation", String.valueOf(a.getGeneration()));
    return m;
  }

  private static String replica(StoredAllocation a) {
    return a.getJob() + "\u0000" + a.getGroup() + "\u0000" + a.getIndex();
  }
}
