package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.InMemoryClusterStore;
import dev.berth.agent.cluster.SealKey;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The leader's tag on an allocation: what it covers, how it is encoded, and every way it fails to match. */
class AllocationTagsTest {
  private static final String IMAGE = "registry.example.com/team/web:1";
  private static final String NO_MATCH = "its placement tag does not match it: its node, job, task group, index, "
      + "generation, job version, spec or image was changed after the scheduler placed it";

  private final SealKey key = SealKey.generate("test seal key");
  private final AllocationTags tags = tags(key);
  private final StoredAllocation placed = StoredAllocation.newBuilder().setId("9f6c0e1a-alloc").setJob("web")
      .setGroup("web").setIndex(2).setNode("n1").setGeneration(3).setJobVersion(7).setSpec("0123456789abcdef")
      .setCpuMillis(100).setMemoryBytes(64 << 20).build();

  private static AllocationTags tags(SealKey key) {
    return new AllocationTags(new CredentialVault(new InMemoryClusterStore(), key));
  }

  @Test
  void aTaggedAllocationMatchesOnEveryServerWithTheSameKey() {
    StoredAllocation a = tags.attach(placed, IMAGE);
    assertEquals(IMAGE, a.getTag().getImage());
    assertEquals(key.id(), a.getTag().getSealKey());
    assertEquals(32, a.getTag().getMac().size());
    assertEquals(Optional.empty(), tags.refusal(a));
    // Another server's vault over the same key: the same tag.
    assertEquals(Optional.empty(), tags(key).refusal(a));
    assertEquals(a, tags(key).attach(placed, IMAGE), "a tag is a function of the key and the allocation");
  }

  /** What the node writes, and what the leader writes when it asks for a stop, are no part of the tag. */
  @Test
  void whatTheNodeReportsAndAStopLeaveTheTagValid() {
    StoredAllocation a = tags.attach(placed, IMAGE).toBuilder().setState(AllocationState.ALLOCATION_RUNNING_VALUE)
        .setContainerId("c1").setMessage("running").setHealthy(true).setUpdatedAtMillis(99).setDesiredStop(true)
        .setDesiredReason("drain").addRescheduleTimesMillis(5).build();
    assertEquals(Optional.empty(), tags.refusal(a));
  }

  static Stream<Arguments> tampered() {
    return Stream.of(
        Arguments.of("id", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setId("other-alloc").build()),
        Arguments.of("node", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setNode("rogue").build()),
        Arguments.of("job", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setJob("db").build()),
        Arguments.of("group", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setGroup("admin").build()),
        Arguments.of("index", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setIndex(0).build()),
        Arguments.of("generation", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setGeneration(4).build()),
        Arguments.of("job version", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setJobVersion(8).build()),
        Arguments.of("spec", (UnaryOperator<StoredAllocation>) a -> a.toBuilder().setSpec("fedcba9876543210").build()),
        Arguments.of("image", (UnaryOperator<StoredAllocation>) a -> a.toBuilder()
            .setTag(a.getTag().toBuilder().setImage("other.example.com/team/web:1")).build()),
        Arguments.of("mac, one bit", (UnaryOperator<StoredAllocation>) a -> {
          byte[] mac = a.getTag().getMac().toByteArray();
          mac[17] ^= 0x01;
          return a.toBuilder().setTag(a.getTag().toBuilder().setMac(ByteString.copyFrom(mac))).build();
        }),
        Arguments.of("mac, cut short", (UnaryOperator<StoredAllocation>) a -> a.toBuilder()
            .setTag(a.getTag().toBuilder().setMac(a.getTag().getMac().substring(0, 16))).build()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("tampered")
  void aFieldChangedAfterTaggingIsRefused(String field, UnaryOperator<StoredAllocation> change) {
    StoredAllocation a = change.apply(tags.attach(placed, IMAGE));
    assertEquals(Optional.of(NO_MATCH), tags.refusal(a));
  }

  @Test
  void aMissingTagOrMacIsRefused() {
    Optional<String> why = tags.refusal(placed);
    assertTrue(why.orElseThrow().startsWith("it carries no placement tag: it was placed before allocations were tagged"),
        why.toString());
    StoredAllocation stripped = tags.attach(placed, IMAGE).toBuilder().setTag(tags.attach(placed, IMAGE).getTag()
        .toBuilder().clearMac()).build();
    assertEquals(why, tags.refusal(stripped));
  }

  @Test
  void aTagUnderAnotherSealKeyIsRefusedNamingBothKeys() {
    SealKey before = SealKey.generate("replaced seal key");
    StoredAllocation a = tags(before).attach(placed, IMAGE);
    assertEquals(Optional.of("its placement tag was made under the seal key " + before.id() + ", not under this "
        + "server's " + key.id() + " (the servers' seal key was changed); it gets a credential once the scheduler "
        + "places it again"), tags.refusal(a));
    // A tag that names this server's key but was made with another is no match either.
    StoredAllocation forged = a.toBuilder().setTag(a.getTag().toBuilder().setSealKey(key.id())).build();
    assertEquals(Optional.of(NO_MATCH), tags.refusal(forged));
  }

  @Test
  void anAgentWithoutTheSealKeyPlacesUntagged() {
    AllocationTags member = new AllocationTags(new CredentialVault(new InMemoryClusterStore(), null));
    assertFalse(member.canTag());
    assertFalse(member.attach(placed, IMAGE).hasTag());
  }

  /**
   * Pairs of allocations whose fields, run together without their lengths, read the same: each
   * pair must still encode (and so tag) differently.
   */
  static Stream<Arguments> shifted() {
    StoredAllocation.Builder b = StoredAllocation.newBuilder().setGeneration(1).setJobVersion(1).setSpec("s");
    return Stream.of(
        Arguments.of("id into node", b.clone().setId("a1").setNode("n1").setJob("web").build(), "img",
            b.clone().setId("a1n").setNode("1").setJob("web").build(), "img"),
        Arguments.of("node into job", b.clone().setId("a").setNode("n1w").setJob("eb").build(), "img",
            b.clone().setId("a").setNode("n1").setJob("web").build(), "img"),
        Arguments.of("job into group", b.clone().setId("a").setJob("ab").setGroup("c").build(), "img",
            b.clone().setId("a").setJob("a").setGroup("bc").build(), "img"),
        Arguments.of("spec into image", b.clone().setId("a").setSpec("s/reg").build(), "/x:1",
            b.clone().setId("a").setSpec("s").build(), "/reg/x:1"),
        Arguments.of("index and generation swapped", b.clone().setId("a").setIndex(1).setGeneration(2).build(), "i",
            b.clone().setId("a").setIndex(2).setGeneration(1).build(), "i"),
        Arguments.of("generation and job version swapped", b.clone().setId("a").setGeneration(3).setJobVersion(5)
            .build(), "i", b.clone().setId("a").setGeneration(5).setJobVersion(3).build(), "i"),
        Arguments.of("empty field", b.clone().setId("").setNode("a").build(), "i",
            b.clone().setId("a").setNode("").build(), "i"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("shifted")
  void fieldsCannotBeShiftedBetweenOneAnother(String what, StoredAllocation x, String xImage, StoredAllocation y,
      String yImage) {
    assertFalse(Arrays.equals(AllocationTags.canonical(x, xImage), AllocationTags.canonical(y, yImage)));
    StoredAllocation tagged = tags.attach(x, xImage);
    // y given x's tag: refused.
    StoredAllocation moved = y.toBuilder().setTag(tagged.getTag().toBuilder().setImage(yImage)).build();
    assertEquals(Optional.of(NO_MATCH), tags.refusal(moved));
  }

  @Test
  void theEncodingIsLengthPrefixedFieldsInAFixedOrder() {
    StoredAllocation a = StoredAllocation.newBuilder().setId("i").setNode("n").setJob("j").setGroup("g").setIndex(1)
        .setGeneration(2).setJobVersion(3).setSpec("s").build();
    byte[] label = AllocationTags.LABEL.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    java.io.ByteArrayOutputStream want = new java.io.ByteArrayOutputStream();
    want.writeBytes(new byte[] {0, 0, 0, (byte) label.length});
    want.writeBytes(label);
    for (String s : List.of("i", "n", "j", "g")) {
      want.writeBytes(new byte[] {0, 0, 0, 1, (byte) s.charAt(0)});
    }
    for (int n : new int[] {1, 2, 3}) {
      want.writeBytes(new byte[] {0, 0, 0, 0, 0, 0, 0, (byte) n});
    }
    want.writeBytes(new byte[] {0, 0, 0, 1, 's', 0, 0, 0, 3, 'i', 'm', 'g'});
    assertArrayEquals(want.toByteArray(), AllocationTags.canonical(a, "img"));
  }
}
