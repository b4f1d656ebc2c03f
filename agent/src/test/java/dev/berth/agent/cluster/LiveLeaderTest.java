package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which leader {@code cluster status} shows, given the servers' liveness. */
class LiveLeaderTest {
  private static Member server(String name, MemberState state) {
    return new Member(name, "10.0.0.1:7946", Role.SERVER, state, 0);
  }

  @Test
  void aLeaderJudgedDownIsNotShown() {
    List<Member> servers = List.of(server("n1", MemberState.DOWN), server("n2", MemberState.ALIVE),
        server("n3", MemberState.ALIVE));
    assertEquals(Optional.empty(), Cluster.liveLeader(Optional.of("n1"), servers));
    assertEquals(Optional.of("n2"), Cluster.liveLeader(Optional.of("n2"), servers));
  }

  @Test
  void aSuspectLeaderIsStillShownAndNoneStaysNone() {
    List<Member> servers = List.of(server("n1", MemberState.SUSPECT), server("n2", MemberState.ALIVE));
    assertEquals(Optional.of("n1"), Cluster.liveLeader(Optional.of("n1"), servers));
    assertEquals(Optional.empty(), Cluster.liveLeader(Optional.empty(), servers));
  }
}
