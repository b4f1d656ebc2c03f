package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Whose verdicts an agent shows: the Raft leader's, else its own (a server), else the freshest server's. */
class AuthoritativeLivenessTest {
  /** An answer from {@code server} whose verdicts mark {@code server} itself, so the test can tell whose counted. */
  private static AtomixHeartbeats.Answer answer(String server, boolean leader, long term) {
    return new AtomixHeartbeats.Answer(server, 1, 1, leader, term, Map.of(server, new Liveness.Verdict(MemberState.ALIVE, 0)));
  }

  static Stream<Arguments> cases() {
    var s1 = answer("s1", false, 3);
    var s2Leads = answer("s2", true, 3);
    var s3OldLeader = answer("s3", true, 2);
    var selfLeads = answer("self", true, 3);
    var self = answer("self", false, 3);
    return Stream.of(
        Arguments.of("member, nothing heard: SWIM alone", List.of(), Optional.empty(), null),
        Arguments.of("member: the leader's, though another answered later", List.of(s1, s2Leads), Optional.empty(), "s2"),
        Arguments.of("member, no leader among the answers: the freshest", List.of(s1, answer("s3", false, 3)), Optional.empty(), "s1"),
        Arguments.of("member: a deposed leader (lower term) does not count", List.of(s3OldLeader, s2Leads), Optional.empty(), "s2"),
        Arguments.of("server that leads: its own", List.of(s1), Optional.of(selfLeads), "self"),
        Arguments.of("server that follows: the leader's", List.of(s2Leads), Optional.of(self), "s2"),
        Arguments.of("server, no leader heard (cut off): its own", List.of(s1), Optional.of(self), "self"),
        Arguments.of("server, cut off alone: its own", List.of(), Optional.of(self), "self"),
        Arguments.of("server that thinks it leads in an old term: the newer leader's", List.of(s2Leads),
            Optional.of(answer("self", true, 2)), "s2"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void chooses(String name, List<AtomixHeartbeats.Answer> fresh, Optional<AtomixHeartbeats.Answer> own, String expected) {
    Optional<Map<String, Liveness.Verdict>> v = AtomixHeartbeats.authoritative(fresh, own);
    assertEquals(Optional.ofNullable(expected), v.map(m -> m.keySet().iterator().next()));
  }
}
