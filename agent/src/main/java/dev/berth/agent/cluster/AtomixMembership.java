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
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@link Membership} from Atomix's SWIM membership service. Atomix forgets a removed member; this
 * view keeps it as {@link MemberState#DOWN}. Events are used as a signal only: the member is read
 * back from the membership service, because an event's snapshot shows remote members as
 * unreachable (measured on 3.1.12).
 */
final class AtomixMembership implements Membership {
  private static final Logger LOG = Logger.getLogger(AtomixMembership.class.getName());

  private final String localName;
  private final Map<String, Member> members = new ConcurrentHashMap<>();
  private final List<Consumer<Member>> listeners = new CopyOnWriteArrayList<>();
  private final ClusterMembershipEventListener atomixListener = this::onEvent;
  private volatile Atomix atomix;

  AtomixMembership(ClusterConfig config) {
    this.localName = config.node();
    members.put(localName, new Member(localName, config.advertise().toString(), config.role(), MemberState.ALIVE,
        System.currentTimeMillis()));
  }

  /** Starts following {@code a}'s membership; called once Atomix has started. */
  void attach(Atomix a) {
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
  void refreshAll() {
    Atomix a = atomix;
    if (a == null) {
      return;
    }
    Set<String> names = new HashSet<>(members.keySet());
    a.getMembershipService().getMembers().forEach(m -> names.add(m.id().id()));
    names.forEach(this::refresh);
  }

  private void refresh(String name) {
    Atomix a = atomix;
    if (a == null) {
      return;
    }
    long now = System.currentTimeMillis();
    io.atomix.cluster.Member m = a.getMembershipService().getMember(name);
    Member before = members.get(name);
    Member after;
    if (m == null) {
      after = before == null ? null : before.withState(MemberState.DOWN, now);
    } else {
      MemberState state = name.equals(localName) || m.isReachable() ? MemberState.ALIVE : MemberState.SUSPECT;
      Role role = Role.SERVER.name().equals(m.properties().getProperty(AtomixNode.ROLE_PROPERTY)) ? Role.SERVER : Role.MEMBER;
      String address = m.address().toString();
      after = before != null && before.state() == state && before.address().equals(address) && before.role() == role
          ? before : new Member(name, address, role, state, before != null && before.state() == state ? before.sinceMillis() : now);
    }
    if (after == null || after.equals(before)) {
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
