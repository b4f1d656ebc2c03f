package dev.berth.agent.cluster;

import io.atomix.core.Atomix;
import io.atomix.primitive.partition.Partition;
import io.atomix.primitive.partition.PartitionGroup;
import io.atomix.protocols.raft.RaftServer;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Cuts the start-up of a one-server cluster (the embedded default) from 8-11 s to about one.
 *
 * <p>Why: Atomix 3.1 fixes the Raft election timeout at 2.5 s and waits a random 2.5-5 s before
 * a follower first asks for votes, even when it is the only voter; the two Raft groups ("system",
 * then "data") start one after the other, so the lone server idles twice. A server that is the
 * only member of its group can safely stand for election at once: no other voter exists. Atomix
 * offers that as {@link RaftServer#promote()}, but does not expose a partition's server, so it is
 * reached by reflection on two private fields. Best effort: if the fields are not found (another
 * Atomix version), nothing happens and the normal election timeout applies.
 *
 * <p>Runs on its own daemon thread while Atomix starts; never used with more than one server.
 */
final class SingleServerPromoter implements Runnable {
  private static final Logger LOG = Logger.getLogger(SingleServerPromoter.class.getName());
  private static final long POLL_MILLIS = 20;
  /** Longer than any start-up measured; after it the election timeout has done the work anyway. */
  private static final long GIVE_UP_MILLIS = 30_000;

  private final Atomix atomix;
  private final List<String> groups;

  SingleServerPromoter(Atomix atomix, List<String> groups) {
    this.atomix = atomix;
    this.groups = groups;
  }

  @Override
  public void run() {
    Set<String> done = new HashSet<>();
    long deadline = System.currentTimeMillis() + GIVE_UP_MILLIS;
    try {
      while (done.size() < groups.size() && System.currentTimeMillis() < deadline) {
        for (String name : groups) {
          if (!done.contains(name) && promote(name)) {
            done.add(name);
          }
        }
        Thread.sleep(POLL_MILLIS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.FINE, "cannot promote the lone Raft server; the election timeout applies", e);
    }
  }

  /** True once every partition of {@code groupName} is past its first election. */
  private boolean promote(String groupName) throws ReflectiveOperationException {
    PartitionGroup group = AtomixNode.SYSTEM_GROUP.equals(groupName)
        ? atomix.getPartitionService().getSystemPartitionGroup()
        : atomix.getPartitionService().getPartitionGroup(groupName);
    if (group == null) {
      return false;
    }
    List<RaftServer> servers = new ArrayList<>();
    for (Partition p : group.getPartitions()) {
      Object partitionServer = field(p, "server");
      RaftServer server = partitionServer == null ? null : (RaftServer) field(partitionServer, "server");
      if (server == null) {
        return false;
      }
      servers.add(server);
    }
    boolean all = !servers.isEmpty();
    for (RaftServer s : servers) {
      RaftServer.Role role = s.getRole();
      if (role == RaftServer.Role.FOLLOWER) {
        s.promote();
        all = false;  // look again: done once it leads
      } else if (role != RaftServer.Role.LEADER) {
        all = false;
      }
    }
    return all;
  }

  private static Object field(Object o, String name) throws ReflectiveOperationException {
    Field f = o.getClass().getDeclaredField(name);
    f.setAccessible(true);
    return f.get(o);
  }
}
