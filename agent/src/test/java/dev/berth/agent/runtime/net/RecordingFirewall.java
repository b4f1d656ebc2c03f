package dev.berth.agent.runtime.net;

import java.util.ArrayList;
import java.util.List;

/** A {@link Firewall} for unit tests: keeps the rules last applied and counts the calls. Thread-safe. */
public final class RecordingFirewall implements Firewall {
  private Rules current = Rules.EMPTY;
  private final List<Rules> applied = new ArrayList<>();

  @Override
  public synchronized void apply(Rules rules) {
    current = rules;
    applied.add(rules);
  }

  @Override
  public synchronized void remove() {
    current = Rules.EMPTY;
  }

  /** The rules in force. */
  public synchronized Rules current() {
    return current;
  }

  public synchronized int applyCount() {
    return applied.size();
  }
}
