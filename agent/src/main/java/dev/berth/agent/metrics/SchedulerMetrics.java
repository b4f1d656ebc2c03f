package dev.berth.agent.metrics;

import dev.berth.agent.jobs.SchedulingLoop;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The scheduler's work, as the leading server does it: evaluations and their latency, replicas
 * placed, stopped and waiting, allocations lost with their node (failovers), and whether this
 * agent leads. On other agents the series stay at zero.
 */
public final class SchedulerMetrics implements SchedulingLoop.Listener {
  private final MeterRegistry registry;
  private final Timer evaluations;
  private final Counter placed;
  private final Counter stopped;
  private final AtomicInteger leader = new AtomicInteger();
  private final Map<String, Integer> unplacedByJob = new ConcurrentHashMap<>();

  public SchedulerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.evaluations = Timer.builder("berth_scheduler_evaluation_seconds")
        .description("How long one evaluation of a job took: read, plan, commit")
        .publishPercentileHistogram().register(registry);
    this.placed = Counter.builder("berth_scheduler_placements_total")
        .description("Replicas placed on nodes by this agent's scheduler").register(registry);
    this.stopped = Counter.builder("berth_scheduler_stops_total")
        .description("Allocations this agent's scheduler asked their nodes to stop").register(registry);
    Gauge.builder("berth_scheduler_unplaced_replicas", unplacedByJob,
            m -> m.values().stream().mapToInt(Integer::intValue).sum())
        .description("Replicas that wait for a node that fits, as the last evaluation of each job found")
        .register(registry);
    Gauge.builder("berth_scheduler_leader", leader, AtomicInteger::get)
        .description("1 while this agent runs the cluster's scheduler").register(registry);
  }

  @Override
  public void evaluated(String job, long nanos, int placements, int stops, int unplaced) {
    evaluations.record(nanos, TimeUnit.NANOSECONDS);
    placed.increment(placements);
    stopped.increment(stops);
    if (unplaced == 0) {
      unplacedByJob.remove(job);
    } else {
      unplacedByJob.put(job, unplaced);
    }
  }

  @Override
  public void lost(String node, int allocations) {
    Counter.builder("berth_allocations_lost_total")
        .description("Allocations marked lost because their node went down (each is placed again elsewhere)")
        .tag("lost_node", node).register(registry).increment(allocations);
  }

  @Override
  public void leading(boolean isLeader) {
    leader.set(isLeader ? 1 : 0);
    if (!isLeader) {
      unplacedByJob.clear();
    }
  }
}
