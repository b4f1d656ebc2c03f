package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Leader elections over Raft: for each topic, at most one candidate leads at a time, and when it
 * leaves or dies the next in line takes over. The first candidate of a topic leads; the others
 * queue in the order they entered.
 *
 * <p>One candidacy per topic per agent: candidates are node names, so a second {@link #run} of
 * the same topic on the same agent does not queue it twice, and closing either candidacy
 * withdraws the node. Thread-safe.
 *
 * <p>A candidate can be {@linkplain Candidacy#evict evicted} by another: it leaves the line at
 * once, and if it led, the next in line leads without waiting for the evicted node's session to
 * expire. An evicted node that is in fact alive hears of it, stops leading, and enters again at
 * the back of the line. The Atomix implementation evicts a topic's leader by itself once the
 * servers judge its node down (see {@code AtomixElections}).
 */
public interface LeaderElections {
  /**
   * Enters this agent as a candidate for {@code topic} (lower-case letters, digits and '-',
   * starting with a letter, at most 41). Throws {@code INVALID_ARGUMENT} for another topic,
   * {@code UNAVAILABLE} while the cluster is starting or has no quorum.
   */
  Candidacy run(String topic);

  /** Checks a topic's name; throws {@code INVALID_ARGUMENT} naming it. */
  static String checkTopic(String topic) {
    // Rarely called (a topic is entered once per component), so no compiled pattern is kept.
    if (topic == null || !topic.matches("[a-z][a-z0-9-]{0,40}")) {
      throw BerthException.invalid("invalid election topic \"" + topic
          + "\": lower-case letters, digits and '-', starting with a letter, at most 41");
    }
    return topic;
  }

  /** This agent's candidacy for one topic; {@link #close()} withdraws it. */
  interface Candidacy extends AutoCloseable {
    /**
     * Whether this agent leads the topic now, as last heard: may lag a leader change briefly,
     * and two agents may both believe they lead for that moment, so work done as the leader is
     * committed with a version check. False once closed.
     */
    boolean isLeader();

    /** The node that leads the topic now, as last heard, if any. */
    Optional<String> leader();

    /**
     * Called with the new leader (empty: none) after each change of leader, not for other
     * candidates coming and going; never after {@link #close()}. A listener added late is not
     * told the current leader: read {@link #leader()} after adding it. On an Atomix thread (the
     * fake: on the thread that made the change); must not block.
     */
    void onChange(Consumer<Optional<String>> listener);

    /**
     * Removes {@code node} from this topic's line; if it led, the next in line leads now. A node
     * that is no candidate is left alone. Blocks until the change is committed (a Raft write);
     * throws {@code UNAVAILABLE} when no quorum answered in time, {@code FAILED_PRECONDITION}
     * once closed.
     *
     * <p>The evicted node's own candidacies, if it is alive, hear the change like every other,
     * no longer lead, and enter again at the back of the line; so an eviction made on a wrong
     * judgement (a node paused or cut off, not dead) costs that node its place, never its
     * candidacy.
     */
    void evict(String node);

    /** Withdraws; leadership passes to the next candidate. Idempotent; never throws. */
    @Override
    void close();
  }
}
