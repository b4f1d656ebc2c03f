package dev.berth.agent.cluster;

import java.util.Optional;
import java.util.function.Consumer;

/**
 * Leader elections over Raft: for each topic, at most one candidate leads at a time, and when it
 * leaves or dies the next in line takes over.
 */
public interface LeaderElections {
  /**
   * Enters this agent as a candidate for {@code topic}. Throws {@code UNAVAILABLE} while the
   * cluster is starting or has no quorum.
   */
  Candidacy run(String topic);

  /** This agent's candidacy for one topic; {@link #close()} withdraws it. */
  interface Candidacy extends AutoCloseable {
    /** Whether this agent leads the topic now (as last heard; may lag a leader change briefly). */
    boolean isLeader();

    /** The node that leads the topic now, if any. */
    Optional<String> leader();

    /** Called with the new leader (empty: none) after each change, on an Atomix thread; must not block. */
    void onChange(Consumer<Optional<String>> listener);

    /** Withdraws; leadership passes to the next candidate. */
    @Override
    void close();
  }
}
