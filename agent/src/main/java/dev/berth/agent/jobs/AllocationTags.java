package dev.berth.agent.jobs;

import dev.berth.agent.cluster.CredentialVault;
import dev.berth.proto.v1.AllocationTag;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.TaskGroup;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Tags on allocations: how a server tells an allocation the scheduler leader placed from one that
 * some other agent wrote. Every agent, plain members included, can write the replicated state;
 * only the servers hold the seal key. So the leader, always a server, tags each allocation as it
 * commits it ({@link #attach}): an HMAC-SHA256 ({@link CredentialVault#allocationTag}) of what a
 * credential handout relies on, in one {@linkplain #canonical canonical encoding} — the
 * allocation's id, node, job, group, index, generation, job version and spec digest, and the
 * image it pulls, which the tag also keeps as it is. {@link CredentialHandout} computes the tag
 * again ({@link #refusal}) and hands nothing out for an allocation whose tag is missing or differs.
 *
 * <p>A missing tag is never added afterwards: one that was stripped looks just like one that was
 * never there, so tagging what the store holds untagged would vouch for whatever a member wrote.
 * An allocation without a valid tag (placed before allocations were tagged, by a server without
 * the seal key, or under a seal key since replaced) keeps running; it gets a credential once the
 * scheduler places it again.
 *
 * <p>Immutable apart from a log-once flag; thread-safe.
 */
public final class AllocationTags {
  /** First field of every encoding: a tag of this scheme can never match an encoding of another. */
  static final String LABEL = "berth allocation tag v1";
  private static final Logger LOG = Logger.getLogger(AllocationTags.class.getName());

  private final CredentialVault vault;
  private volatile boolean untaggedLogged;

  /** @param vault this agent's; only one that {@linkplain CredentialVault#canOpen can open} makes and checks tags */
  public AllocationTags(CredentialVault vault) {
    this.vault = vault;
  }

  /** Whether this agent makes and checks tags: it holds the cluster's seal key. */
  public boolean canTag() {
    return vault.canOpen();
  }

  /**
   * {@code a}, placed for {@code job}, with its tag: {@code a}'s task group's image is what the
   * tag vouches the allocation pulls. Where this agent {@linkplain #canTag cannot tag}, {@code a}
   * unchanged (no server will then hand it a credential; that is logged once).
   */
  public StoredAllocation attach(StoredAllocation a, Job job) {
    String image = job.groups().stream().filter(g -> g.name().equals(a.getGroup())).map(TaskGroup::image).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("job " + job.name() + " has no task group " + a.getGroup()));
    return attach(a, image);
  }

  /** {@code a} with its tag for pulling {@code image}; unchanged where this agent cannot tag. */
  public StoredAllocation attach(StoredAllocation a, String image) {
    if (!canTag()) {
      if (!untaggedLogged) {
        untaggedLogged = true;
        LOG.info("this server holds no seal key of the cluster's: the allocations it places carry no tag, and no "
            + "server hands them a registry credential (give every server the same berthd --seal-key FILE)");
      }
      return a;
    }
    byte[] mac = vault.allocationTag(canonical(a, image));
    return a.toBuilder().setTag(AllocationTag.newBuilder().setMac(ByteString.copyFrom(mac)).setImage(image)
        .setSealKey(vault.keyId())).build();
  }

  /**
   * Why {@code a}'s tag does not vouch for it, or empty when it does: the tag is there, made
   * under this server's seal key, and equal (compared in constant time) to the one computed
   * again from {@code a} as it is now. Only where {@link #canTag()}; {@code FAILED_PRECONDITION}
   * elsewhere, as {@link CredentialVault#allocationTag} throws.
   */
  public Optional<String> refusal(StoredAllocation a) {
    String placeAgain = "; it gets a credential once the scheduler places it again";
    if (!a.hasTag() || a.getTag().getMac().isEmpty()) {
      return Optional.of("it carries no placement tag: it was placed before allocations were tagged or by a server "
          + "without the cluster's seal key, or was written by something other than the scheduler" + placeAgain);
    }
    AllocationTag t = a.getTag();
    String mine = vault.keyId();
    if (!t.getSealKey().equals(mine)) {
      return Optional.of("its placement tag was made under the seal key " + t.getSealKey() + ", not under this "
          + "server's " + mine + " (the servers' seal key was changed)" + placeAgain);
    }
    byte[] expected = vault.allocationTag(canonical(a, t.getImage()));
    if (!MessageDigest.isEqual(expected, t.getMac().toByteArray())) {
      return Optional.of("its placement tag does not match it: its node, job, task group, index, generation, job "
          + "version, spec or image was changed after the scheduler placed it");
    }
    return Optional.empty();
  }

  /**
   * What a tag is computed over, in a fixed order: each text field as its UTF-8 length (4 bytes)
   * and bytes, each number as 8 bytes. The lengths keep one field's bytes from passing for
   * another's (job {@code "ab"}, group {@code "c"} never encodes as job {@code "a"}, group
   * {@code "bc"}), and the fixed order and widths keep the fields from trading places.
   */
  static byte[] canonical(StoredAllocation a, String image) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      text(out, LABEL);
      text(out, a.getId());
      text(out, a.getNode());
      text(out, a.getJob());
      text(out, a.getGroup());
      out.writeLong(a.getIndex());
      out.writeLong(a.getGeneration());
      out.writeLong(a.getJobVersion());
      text(out, a.getSpec());
      text(out, image);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static void text(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }
}
