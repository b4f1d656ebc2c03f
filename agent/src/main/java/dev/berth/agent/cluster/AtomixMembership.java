package dev.berth.agent.cluster;

import io.atomix.cluster.ClusterMembershipEvent;
import io.atomix.cluster.ClusterMembershipEventListener;
import io.atomix.core.Atomix;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@link Membership} from the servers' verdicts ({@link AtomixHeartbeats}: heartbeats plus SWIM
 * reachability, judged by the Raft leader) and Atomix's SWIM membership service for addresses and
 * roles. While no server's verdicts are at hand (the cluster starting, this agent cut off from
 * every server) SWIM alone decides: unreachable is suspect, removed is down. Atomix forgets a
 * removed member; this view keeps it. Events are used as a signal only: the member is read back
 * from the membership service, because an event's snapshot shows remote members as unreachable
 * (measured on 3.1.12).
 */
final class AtomixMembership implements Membership {
  private static final Logger LOG = Logger.getLogger(AtomixMembership.class.getName());

  private final String localName;
  private final Map<String, Member> members = new ConcurrentHashMap<>();
  private final List<Consumer<Member>> listeners = new CopyOnWriteArrayList<>();
  private final ClusterMembershipEventListener atomixListener = this::onEvent;
  private volatile Atomix atomix;
  private volatile Supplier<Optional<Map<String, Liveness.Verdict>>> verdicts = Optional::empty;

  AtomixMembership(ClusterConfig config) {
    this.localName = config.node();
    members.put(localName, new Member(localName, config.advertise().toString(), config.role(), MemberState.ALIVE,
        System.currentTimeMillis()));
  }

  /** Starts following {@code a}'s membership; called once Atomix has started. */
  void attach(Atomix a, Supplier<Optional<Map<String, Liveness.Verdict>>> servers) {
    this.verdicts = servers;
    this.atomix = a;
    a.getMembershipService().addListener(atomixListener);
    refreshAll();
  }

  void detach() {
    Atomix a = atomix;
    if (a != null) {
      a.getMembershipService().removeListener(atomixListener);
    }
  }

  @Override
  public Member local() {
    return members.get(localName);
  }

  @Override
  public List<Member> members() {
    return members.values().stream().sorted(Comparator.comparing(Member::name)).toList();
  }

  @Override
  public Optional<Member> member(String name) {
    return Optional.ofNullable(members.get(name));
  }

  @Override
  public void addListener(Consumer<Member> listener) {
    listeners.add(listener);
  }

  @Override
  public void removeListener(Consumer<Member> listener) {
    listeners.remove(listener);
  }

  private void onEvent(ClusterMembershipEvent event) {
    refresh(event.subject().id().id());
  }

  /** Re-reads every member; also run periodically, so a missed event heals within a second. */
  synchronized void refreshAll() {
    Atomix a = atomix;
    if (a == null) {
      return;
    }
    Set<String> names = new HashSet<>(members.keySet());
    a.getMembershipService().getMembers().forEach(m -> names.add(m.id().id()));
    verdicts.get().ifPresent(v -> names.addAll(v.keySet()));
    names.forEach(this::refresh);
  }

  /**
   * The member as Atomix's membership knows it, or null. Atomix 3.1's SWIM throws a
   * NullPointerException for an id it has never heard of (one the servers' verdicts name first, say
   * a node that registered a moment ago); that must not stop the refresh of every other member.
   */
  private static io.atomix.cluster.Member atomixMember(Atomix a, String name) {
    try {
      return a.getMembershipService().getMember(name);
    } catch (NullPointerException e) {
      return null;
    }
  }

  private synchronized void refresh(String name) {
    Atomix a = atomix;
    if (a == null) {
      return;
    }
    long now = System.currentTimeMillis();
    io.atomix.cluster.Member m = atomixMember(a, name);
    Optional<Liveness.Verdict> verdict = verdicts.get().map(v -> v.get(name));
    Member before = members.get(name);
    String address = m != null ? m.address().toString() : before != null ? before.address() : "";
    Role role = m != null
        ? Role.SERVER.name().equals(m.properties().getProperty(AtomixNode.ROLE_PROPERTY)) ? Role.SERVER : Role.MEMBER
        : before != null ? before.role() : Role.MEMBER;
    MemberState state;
    long since;
    if (name.equals(localName)) {
      state = MemberState.ALIVE;
      since = before != null ? before.sinceMillis() : now;
    } else if (verdict.isPresent()) {
      // The servers' word: heartbeats plus SWIM, judged where placement happens.
      state = verdict.get().state();
      since = verdict.get().sinceMillis();
    } else {
      state = m == null ? MemberState.DOWN : m.isReachable() ? MemberState.ALIVE : MemberState.SUSPECT;
      since = before != null && before.state() == state ? before.sinceMillis() : now;
    }
    if (m == null && before == null && verdict.isEmpty()) {
      return;
    }
    Member after = new Member(name, address, role, state, since);
    if (after.equals(before)) {
      return;
    }
    members.put(name, after);
    for (Consumer<Member> l : listeners) {
      try {
        l.accept(after);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "membership listener failed", e);
      }
    }
  }
}
