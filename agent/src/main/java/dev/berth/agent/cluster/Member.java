package dev.berth.agent.cluster;

/**
 * One agent as the membership sees it.
 *
 * @param name the node name
 * @param address where it is reached (host:port of Atomix messaging), empty if never seen
 * @param role server or plain member
 * @param state alive, suspect or down
 * @param sinceMillis wall-clock time of the last change of {@code state}
 */
public record Member(String name, String address, Role role, MemberState state, long sinceMillis) {
  Member withState(MemberState s, long now) {
    return s == state ? this : new Member(name, address, role, s, now);
  }
}
