package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.CredentialVault.Scope;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.cluster.SealKey;
import dev.berth.agent.registry.Credentials;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import dev.berth.scheduler.Scheduler;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Who is handed a registry credential when any agent can write the replicated state: the leader's
 * scheduling loop places and tags the allocations (a server's job store, holding the seal key);
 * a "rogue" member then writes the store directly, as any agent can, and the handout must refuse
 * everything that the leader did not place as it is now, and every credential not sealed for the
 * job or login it is kept as.
 */
class CredentialHandoutTest {
  private static final String REGISTRY = "registry.example.com";
  private static final String OTHER = "other.example.com";
  private static final Scope WEB = Scope.job("web");

  private final FakeNodes nodes = new FakeNodes().node("n1", 2, 4096).node("n2", 2, 4096);
  private final Clock clock = Clock.fixed(Instant.parse("2026-11-28T05:00:00Z"), ZoneOffset.UTC);
  private final SealKey key = SealKey.generate("test seal key");
  private final CredentialVault vault = new CredentialVault(nodes.store, key);
  /** The leader's store: it tags what it places. */
  private final JobStore leader = new JobStore(nodes.store, new AllocationTags(vault));
  private final SchedulingLoop loop = new SchedulingLoop(leader, new ClusterView(nodes.registry, nodes, nodes, leader),
      null, new Scheduler(), clock, Duration.ofSeconds(1), SchedulingLoop.Listener.NONE);
  private final Jobs jobs = new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, () -> { });
  private final RegistryLogins logins = new RegistryLogins(nodes.store, vault);
  private final CredentialHandout handout = new CredentialHandout(nodes.jobs, logins, vault);
  private final List<String> logged = new ArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      logged.add(r.getMessage());
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  };

  @BeforeEach
  void start() {
    vault.publish();
    Logger.getLogger(CredentialHandout.class.getName()).addHandler(capture);
  }

  @AfterEach
  void stop() {
    Logger.getLogger(CredentialHandout.class.getName()).removeHandler(capture);
  }

  private static String job(String image) {
    return "name: web\ngroups:\n  - name: web\n    count: 1\n    image: " + image
        + "\n    resources: {cpu: 10m, memory: 8m}\n";
  }

  /** Submits the job with its own credential for {@link #REGISTRY}, lets the leader place it; its one allocation. */
  private StoredAllocation placed() {
    jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of(vault.seal(WEB, REGISTRY, "berth", "s3cret")));
    loop.round(false);
    return live();
  }

  private StoredAllocation live() {
    List<StoredAllocation> all = new ArrayList<>();
    nodes.jobs.allAllocations().values().forEach(n -> n.allocations().stream().filter(a -> !a.getDesiredStop())
        .forEach(all::add));
    assertEquals(1, all.size(), all.toString());
    return all.get(0);
  }

  private static String other(String node) {
    return node.equals("n1") ? "n2" : "n1";
  }

  /** What a rogue member does: writes a node's allocations in the store, as any agent can. */
  private void write(String node, UnaryOperator<List<StoredAllocation>> change) {
    nodes.jobs.updateNode(node, change);
  }

  private BerthException refused(String node, String id, String registry) {
    return assertThrows(BerthException.class, () -> handout.forAllocation(Optional.of(node), id, registry));
  }

  private void assertDenied(String message, BerthException e) {
    assertEquals(BerthException.Kind.PERMISSION_DENIED, e.kind(), e.getMessage());
    assertEquals(message, e.getMessage());
    assertTrue(logged.contains("refused: " + message), "every refusal is logged: " + logged);
  }

  @Test
  void theRightNodeWithAnIntactTagGetsTheJobsCredential() {
    StoredAllocation a = placed();
    assertEquals(REGISTRY + "/team/web:1", a.getTag().getImage());
    assertEquals(new Credentials("berth", "s3cret"), handout.forAllocation(Optional.of(a.getNode()), a.getId(), REGISTRY));
  }

  @Test
  void anAllocationWrittenWithoutATagIsRefused() {
    StoredAllocation a = placed();
    String rogue = other(a.getNode());
    StoredAllocation forged = a.toBuilder().clearTag().setId("forged").setNode(rogue).build();
    write(rogue, list -> List.of(forged));
    assertDenied("the registry credential of allocation forged is not handed to node " + rogue + ": it carries no "
        + "placement tag: it was placed before allocations were tagged or by a server without the cluster's seal key, "
        + "or was written by something other than the scheduler; it gets a credential once the scheduler places it "
        + "again", refused(rogue, "forged", REGISTRY));
  }

  @Test
  void aTaggedAllocationMovedToAnotherNodeIsRefused() {
    StoredAllocation a = placed();
    String rogue = other(a.getNode());
    write(a.getNode(), list -> List.of());
    write(rogue, list -> List.of(a.toBuilder().setNode(rogue).build()));
    assertDenied("the registry credential of allocation " + a.getId() + " is not handed to node " + rogue + ": its "
        + "placement tag does not match it: its node, job, task group, index, generation, job version, spec or image "
        + "was changed after the scheduler placed it", refused(rogue, a.getId(), REGISTRY));
  }

  @Test
  void aTaggedAllocationCopiedAsItIsUnderAnotherNodeIsRefused() {
    StoredAllocation a = placed();
    String rogue = other(a.getNode());
    write(rogue, list -> List.of(a));
    assertDenied("the registry credential of allocation " + a.getId() + " is not for node " + rogue
        + ": the allocation is not placed on it", refused(rogue, a.getId(), REGISTRY));
  }

  @Test
  void theJobsImageChangedAfterTaggingIsRefused() {
    StoredAllocation a = placed();
    // The rogue rewrites the job in place (no new version, so the leader places nothing again)
    // to pull from another registry, and gives it a credential for that one.
    StoredJob j = nodes.jobs.job("web").orElseThrow();
    nodes.store.put(JobStore.JOBS, "web", j.toBuilder().setText(job(OTHER + "/team/web:1"))
        .addCredentials(vault.seal(WEB, OTHER, "admin", "0ther")).build().toByteArray());
    assertDenied("the registry credential of allocation " + a.getId() + " is not handed out: it was placed to pull "
        + REGISTRY + "/team/web:1, and its job web now names " + OTHER + "/team/web:1 for task group web",
        refused(a.getNode(), a.getId(), OTHER));
    // Nor does a tag rewritten to the new image match.
    write(a.getNode(), list -> List.of(a.toBuilder().setTag(a.getTag().toBuilder().setImage(OTHER + "/team/web:1"))
        .build()));
    BerthException e = refused(a.getNode(), a.getId(), OTHER);
    assertTrue(e.getMessage().contains("its placement tag does not match it"), e.getMessage());
  }

  @Test
  void onlyTheTaggedImagesRegistryIsHandedOut() {
    StoredAllocation a = placed();
    // The job gets a credential for another registry too; the allocation does not pull from there.
    StoredJob j = nodes.jobs.job("web").orElseThrow();
    nodes.store.put(JobStore.JOBS, "web", j.toBuilder().addCredentials(vault.seal(WEB, OTHER, "admin", "0ther")).build()
        .toByteArray());
    logins.put(OTHER, "team", "l0gin");
    assertDenied("the registry credential of allocation " + a.getId() + " is only for registry " + REGISTRY
        + ", which its image " + REGISTRY + "/team/web:1 is pulled from, not for " + OTHER,
        refused(a.getNode(), a.getId(), OTHER));
  }

  @Test
  void aClusterLoginKeptUnderAnotherRegistrysNameIsRefused() {
    jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of());
    loop.round(false);
    StoredAllocation a = live();
    logins.put(OTHER, "team", "l0gin");
    // The rogue copies the login for the other registry under this registry's name.
    nodes.store.put(RegistryLogins.TABLE, REGISTRY, logins.get(OTHER).orElseThrow().toByteArray());
    assertDenied("the registry credential of allocation " + a.getId() + " is not handed out: the cluster's login kept "
        + "for registry " + REGISTRY + " is a credential for registry " + OTHER, refused(a.getNode(), a.getId(), REGISTRY));
    logins.put(REGISTRY, "team", "l0gin-here");
    assertEquals(new Credentials("team", "l0gin-here"), handout.forAllocation(Optional.of(a.getNode()), a.getId(),
        REGISTRY));
  }

  @Test
  void aRollingUpdateAndARescheduleTagTheNewAllocations() {
    StoredAllocation first = placed();
    nodes.nodesReport(true);
    jobs.submit("web.yaml", job(OTHER + "/team/web:2"), List.of(vault.seal(WEB, OTHER, "admin", "0ther")));
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(false);
    StoredAllocation updated = live();
    assertNotEquals(first.getId(), updated.getId());
    assertEquals(OTHER + "/team/web:2", updated.getTag().getImage());
    assertEquals(new Credentials("admin", "0ther"), handout.forAllocation(Optional.of(updated.getNode()),
        updated.getId(), OTHER));

    nodes.nodesReport(true);
    nodes.state(updated.getNode(), MemberState.DOWN);
    loop.round(true);
    StoredAllocation moved = live();
    assertEquals(other(updated.getNode()), moved.getNode());
    assertEquals(updated.getGeneration() + 1, moved.getGeneration());
    assertEquals(new Credentials("admin", "0ther"), handout.forAllocation(Optional.of(moved.getNode()), moved.getId(),
        OTHER));
    // The lost one is to stop: nothing for it, should its node come back.
    BerthException e = refused(updated.getNode(), updated.getId(), OTHER);
    assertTrue(e.getMessage().endsWith("the allocation is to stop on node " + updated.getNode()), e.getMessage());
  }

  @Test
  void aLeaderWithoutTheSealKeyPlacesAllocationsThatGetNothing() {
    JobStore keyless = nodes.jobs;
    SchedulingLoop l = new SchedulingLoop(keyless, nodes.view(), null, new Scheduler(), clock, Duration.ofSeconds(1),
        SchedulingLoop.Listener.NONE);
    jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of(vault.seal(WEB, REGISTRY, "berth", "s3cret")));
    l.round(false);
    StoredAllocation a = live();
    assertFalse(a.hasTag());
    BerthException e = refused(a.getNode(), a.getId(), REGISTRY);
    assertTrue(e.getMessage().contains("it carries no placement tag"), e.getMessage());
  }

  /** A job the rogue runs on its own node: placed and tagged by the leader like any other. */
  private StoredAllocation rogueJob(String rogue, String image) {
    jobs.submit("b.yaml", "name: b\ngroups:\n  - name: b\n    count: 1\n    image: " + image
        + "\n    resources: {cpu: 10m, memory: 8m}\n    constraints: [{attribute: node.name, value: " + rogue + "}]\n",
        List.of());
    loop.round(false);
    StoredAllocation b = nodes.jobs.nodeAllocations(rogue).allocations().stream()
        .filter(x -> x.getJob().equals("b") && !x.getDesiredStop()).findFirst().orElseThrow();
    assertTrue(b.hasTag(), "the leader tagged the rogue's allocation: " + b);
    return b;
  }

  /** What a rogue member does: writes a job's record in the store, as any agent can. */
  private void rewriteJob(String name, UnaryOperator<StoredJob> change) {
    nodes.store.put(JobStore.JOBS, name, change.apply(nodes.jobs.job(name).orElseThrow()).toByteArray());
  }

  @Test
  void anotherJobsSealedCredentialCopiedIntoARoguesJobDoesNotOpenForIt() {
    StoredAllocation a = placed();
    String rogue = other(a.getNode());
    StoredAllocation b = rogueJob(rogue, REGISTRY + "/rogue/b:1");
    // Its own job, placed on it: the handout would serve it, with a credential sealed for it.
    BerthException none = refused(rogue, b.getId(), REGISTRY);
    assertEquals(BerthException.Kind.NOT_FOUND, none.kind(), none.getMessage());
    StoredCredential stolen = nodes.jobs.job("web").orElseThrow().getCredentials(0);
    rewriteJob("b", j -> j.toBuilder().addCredentials(stolen).build());
    assertDenied("the registry credential of allocation " + b.getId() + " is not handed out: the credential of berth "
        + "for registry " + REGISTRY + " kept with job b was not sealed for job b: it was copied from another job's "
        + "credentials or a login, or altered", refused(rogue, b.getId(), REGISTRY));
    // Submitted with the copied bytes as its own, through the API's store path: the same.
    jobs.submit("b.yaml", nodes.jobs.job("b").orElseThrow().getText(), List.of(stolen));
    BerthException e = refused(rogue, b.getId(), REGISTRY);
    assertEquals(BerthException.Kind.PERMISSION_DENIED, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains("kept with job b was not sealed for job b"), e.getMessage());
    // Nor does it open as the cluster's login for the registry.
    rewriteJob("b", j -> j.toBuilder().clearCredentials().build());
    nodes.store.put(RegistryLogins.TABLE, REGISTRY, stolen.toByteArray());
    assertDenied("the registry credential of allocation " + b.getId() + " is not handed out: the credential of berth "
        + "for registry " + REGISTRY + " kept as the cluster's login was not sealed for the cluster's logins: it was "
        + "copied from another job's credentials or a login, or altered", refused(rogue, b.getId(), REGISTRY));
    // The job it was sealed for still gets it.
    assertEquals(new Credentials("berth", "s3cret"), handout.forAllocation(Optional.of(a.getNode()), a.getId(),
        REGISTRY));
  }

  @Test
  void aClusterLoginCopiedIntoAJobsRecordDoesNotOpenAsTheJobs() {
    jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of());
    loop.round(false);
    StoredAllocation a = live();
    logins.put(REGISTRY, "team", "l0gin");
    assertEquals(new Credentials("team", "l0gin"), handout.forAllocation(Optional.of(a.getNode()), a.getId(),
        REGISTRY));
    StoredCredential login = logins.get(REGISTRY).orElseThrow();
    rewriteJob("web", j -> j.toBuilder().addCredentials(login).build());
    BerthException e = refused(a.getNode(), a.getId(), REGISTRY);
    assertEquals(BerthException.Kind.PERMISSION_DENIED, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains("the credential of team for registry " + REGISTRY + " kept with job web was not "
        + "sealed for job web"), e.getMessage());
  }

  @Test
  void aCredentialSealedBeforeScopesSaysToRunTheJobAgainAndOpensOnceItIs() {
    // A job kept as an agent kept it before credentials had a scope: sealed with the registry and
    // username as its only associated data, and fingerprinted without a scope.
    ByteArrayOutputStream aad = new ByteArrayOutputStream();
    ByteArrayOutputStream print = new ByteArrayOutputStream();
    lengthPrefixed(aad, "berth v1 credential", REGISTRY, "berth");
    lengthPrefixed(print, "berth v1 fingerprint", REGISTRY, "berth", "s3cret");
    StoredCredential old = StoredCredential.newBuilder().setRegistry(REGISTRY).setUsername("berth").setSealKey(key.id())
        .setSealed(ByteString.copyFrom(SealKey.seal(key.publicKey(), aad.toByteArray(),
            "s3cret".getBytes(StandardCharsets.UTF_8))))
        .setFingerprint(ByteString.copyFrom(key.fingerprint(print.toByteArray()))).build();
    jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of(old));
    loop.round(false);
    StoredAllocation a = live();
    BerthException e = refused(a.getNode(), a.getId(), REGISTRY);
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("the registry credential of allocation " + a.getId() + ": the credential of berth for registry "
        + REGISTRY + " kept with job web was sealed before credentials were bound to the job or login they are for, "
        + "and no longer opens; give it again: run job web again with its registry credentials (berth job run "
        + "--registry-auth " + REGISTRY + "=USER:PASSWORD, or --with-registry-auth)", e.getMessage());
    // Run again as it says, with the same file and credential: a new version, whose credential opens.
    StoredCredential again = vault.seal(WEB, REGISTRY, "berth", "s3cret");
    again = again.toBuilder().setFingerprint(ByteString.copyFrom(vault.fingerprint(again, WEB))).build();
    assertTrue(jobs.submit("web.yaml", job(REGISTRY + "/team/web:1"), List.of(again)).changed());
    loop.round(false);
    StoredAllocation now = live();
    assertEquals(new Credentials("berth", "s3cret"), handout.forAllocation(Optional.of(now.getNode()), now.getId(),
        REGISTRY));
  }

  private static void lengthPrefixed(ByteArrayOutputStream to, String... fields) {
    for (String f : fields) {
      byte[] b = f.getBytes(StandardCharsets.UTF_8);
      to.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
      to.writeBytes(b);
    }
  }
}
