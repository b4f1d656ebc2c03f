package dev.berth.agent.cluster;

import io.atomix.cluster.Node;
import io.atomix.cluster.discovery.BootstrapDiscoveryProvider;
import io.atomix.cluster.protocol.SwimMembershipProtocol;
import io.atomix.core.Atomix;
import io.atomix.core.AtomixRegistry;
import io.atomix.core.election.LeaderElectionType;
import io.atomix.core.map.AtomicMapType;
import io.atomix.core.map.DistributedMapType;
import io.atomix.core.registry.SimpleRegistry;
import io.atomix.protocols.gossip.AntiEntropyProtocol;
import io.atomix.protocols.raft.MultiRaftProtocol;
import io.atomix.protocols.raft.partition.RaftPartitionGroup;
import io.atomix.storage.StorageLevel;
import io.atomix.utils.net.Address;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Builds the Atomix instance a {@link ClusterConfig} describes. The one place that knows Atomix's knobs. */
final class AtomixNode {
  /** Member property that carries the role, so every agent knows the servers from gossip. */
  static final String ROLE_PROPERTY = "berth.role";
  /** The Raft group of Atomix's own bookkeeping (primitive registry, sessions). */
  static final String SYSTEM_GROUP = "system";
  /** The Raft group of Berth's state. */
  static final String DATA_GROUP = "data";

  /**
   * One partition per group: Berth's Raft state is small and every write is ordered anyway;
   * each more partition is one more Raft election at start-up.
   */
  private static final int PARTITIONS = 1;
  /**
   * Raft log segments of 8 MiB instead of 32 MiB: the log of a small state compacts sooner and
   * start-up allocates less. Entries stay at Atomix's 1 MiB limit (a batch of allocations).
   */
  private static final long SEGMENT_BYTES = 8L << 20;
  private static final int MAX_ENTRY_BYTES = 1 << 20;
  /** SWIM probes every 500 ms (default 1 s), so a dead member is suspected within about a second. */
  private static final Duration PROBE_INTERVAL = Duration.ofMillis(500);

  private AtomixNode() {}

  static Atomix build(ClusterConfig c) {
    Atomix.class.getName();  // fail here, not in a background thread, if Atomix is missing
    var builder = Atomix.builder(registry())
        .withClusterId(c.cluster())
        .withMemberId(c.node())
        .withAddress(Address.from(c.advertise().host(), c.advertise().port()))
        // Bind only the advertised address: SWIM gossip is plain UDP and must not listen on every interface.
        .withMessagingInterface(c.advertise().host())
        .withProperty(ROLE_PROPERTY, c.role().name())
        .withShutdownHook(false)
        .withMembershipProvider(BootstrapDiscoveryProvider.builder()
            .withNodes(c.join().stream()
                .filter(e -> !e.equals(c.advertise()))
                .map(e -> Node.builder().withAddress(Address.from(e.host(), e.port())).build())
                .toList())
            .build())
        .withMembershipProtocol(SwimMembershipProtocol.builder()
            .withFailureTimeout(c.failureTimeout())
            .withProbeInterval(PROBE_INTERVAL)
            .withBroadcastUpdates(true)
            .build());
    if (c.tls() != null) {
      if (c.tls().selfSigned()) {
        SelfSignedTls.ensure(c.tls(), c.node(), java.time.Instant.now());
      }
      // Atomix's messaging then requires a CA-signed certificate from both ends of every TCP
      // connection (its server side sets ClientAuth.REQUIRE): Raft, SWIM probes and syncs, the
      // gossip map. Only SWIM's UDP gossip stays plaintext; NodeDirectory never counts it alone.
      builder.withTlsEnabled(true)
          .withKeyStore(c.tls().keyStore().toString())
          .withKeyStorePassword(c.tls().password())
          .withTrustStore(c.tls().trustStore().toString())
          .withTrustStorePassword(c.tls().password());
    } else {
      // Explicitly: Atomix would otherwise take the io.atomix.enableNettyTLS system property.
      builder.withTlsEnabled(false);
    }
    if (c.server()) {
      Path raft = c.dataDir().resolve("raft");
      builder.withManagementGroup(group(SYSTEM_GROUP, c.servers(), raft))
          .withPartitionGroups(group(DATA_GROUP, c.servers(), raft));
    }
    return builder.build();
  }

  private static RaftPartitionGroup group(String name, List<String> servers, Path raftDir) {
    return RaftPartitionGroup.builder(name)
        .withMembers(servers)
        .withNumPartitions(PARTITIONS)
        .withPartitionSize(servers.size())
        .withDataDirectory(raftDir.resolve(name).toFile())
        .withStorageLevel(StorageLevel.DISK)
        .withSegmentSize(SEGMENT_BYTES)
        .withMaxEntrySize(MAX_ENTRY_BYTES)
        // Acknowledged writes survive a power cut, not only a kill: the servers fsync each commit.
        .withFlushOnCommit()
        .build();
  }

  /**
   * The types Berth uses, listed instead of Atomix's default of scanning the whole class path
   * for them (ClassGraph over every jar of the agent: seconds of CPU at each start).
   */
  private static AtomixRegistry registry() {
    return SimpleRegistry.builder()
        .addDiscoveryProviderType(BootstrapDiscoveryProvider.TYPE)
        .addPartitionGroupType(RaftPartitionGroup.TYPE)
        .addProtocolType(MultiRaftProtocol.TYPE)
        .addProtocolType(AntiEntropyProtocol.TYPE)
        .addPrimitiveType(AtomicMapType.instance())
        .addPrimitiveType(DistributedMapType.instance())
        .addPrimitiveType(LeaderElectionType.instance())
        // Atomix's own, served by the system group: without them its sessions never open and start() hangs.
        .addPrimitiveType(io.atomix.primitive.partition.impl.PrimaryElectorType.instance())
        .addPrimitiveType(io.atomix.primitive.session.impl.SessionIdGeneratorType.instance())
        .build();
  }

  /** The protocol of every Raft-backed primitive Berth makes. */
  static MultiRaftProtocol raft() {
    return raftBuilder().build();
  }

  /**
   * How long a candidate's Raft session outlives its agent. Atomix's default (30 s) kept a dead
   * scheduler leader in office for up to 46 s (measured in bench/failover.sh); the agents'
   * keep-alives go every half of it, so 5 s still rides out a second of GC or load.
   */
  static final Duration ELECTION_SESSION_TIMEOUT = Duration.ofSeconds(5);

  /** The protocol of leader elections: as {@link #raft()}, with sessions that expire sooner. */
  static MultiRaftProtocol electionRaft() {
    return raftBuilder().withMaxTimeout(ELECTION_SESSION_TIMEOUT).build();
  }

  private static io.atomix.protocols.raft.MultiRaftProtocolBuilder raftBuilder() {
    return MultiRaftProtocol.builder(DATA_GROUP)
        .withReadConsistency(io.atomix.protocols.raft.ReadConsistency.LINEARIZABLE)
        .withRecoveryStrategy(io.atomix.primitive.Recovery.RECOVER)
        .withMaxRetries(3)
        .withRetryDelay(Duration.ofMillis(200));
  }

  /**
   * Gossip every 250 ms (default 50 ms: a busy loop on a 2-core host for facts that change
   * about once a second) and a full anti-entropy pass every second.
   */
  static AntiEntropyProtocol gossip() {
    return AntiEntropyProtocol.builder()
        .withGossipInterval(Duration.ofMillis(250))
        .withAntiEntropyInterval(Duration.ofSeconds(1))
        .build();
  }
}
