package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClusterCodecTest {
  static final NodeRecord NODE = new NodeRecord("n1", "10.213.0.1:7946", "10.213.0.1:2377", Role.SERVER,
      Map.of("zone", "a", "disk", "ssd"), true, false, 1_700_000_000_123L);
  static final NodeFacts FACTS = new NodeFacts("n1", 2, 24L << 30, 1.5, 20L << 30,
      List.of(new NodeFacts.ContainerFact("abc", "web", "busybox:latest", "running")),
      List.of("sha256:" + "a".repeat(64)), 1_700_000_000_456L);

  @Test
  void recordsSurviveTheRoundTripAsProtobuf() {
    byte[] node = ClusterCodec.node(NODE);
    assertNotEquals('{', node[0], "protobuf, not JSON");
    assertEquals(NODE, ClusterCodec.node(node));
    assertEquals(NODE.withAddress("h:1", Role.MEMBER), ClusterCodec.node(ClusterCodec.node(NODE.withAddress("h:1", Role.MEMBER))));
    assertEquals(FACTS, ClusterCodec.facts(ClusterCodec.facts(FACTS)));
    assertEquals("", ClusterCodec.node(ClusterCodec.node(NODE.withApiAddress(""))).apiAddress(), "serves no API on TCP");
  }

  @Test
  void valuesAnEarlierAgentStoredAsJsonAreStillRead() {
    assertEquals(NODE, ClusterCodec.node(ClusterJson.write(NODE)));
    assertEquals(FACTS, ClusterCodec.facts(ClusterJson.write(FACTS)));
    // Before the API address was registered: none.
    String before = "{\"name\":\"n1\",\"address\":\"10.213.0.1:7946\",\"role\":\"MEMBER\",\"labels\":{},"
        + "\"drain\":false,\"eligible\":true,\"registeredAtMillis\":5}";
    assertEquals(new NodeRecord("n1", "10.213.0.1:7946", "", Role.MEMBER, Map.of(), false, true, 5),
        ClusterCodec.node(before.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void damagedBytesAreAnErrorThatSaysWhat() {
    BerthException e = assertThrows(BerthException.class,
        () -> ClusterCodec.node("\u0008\u0080".getBytes(StandardCharsets.ISO_8859_1)));
    assertEquals(BerthException.Kind.INTERNAL, e.kind());
  }
}
