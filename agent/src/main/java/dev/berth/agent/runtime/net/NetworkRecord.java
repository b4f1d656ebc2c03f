package dev.berth.agent.runtime.net;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;
import java.util.Map;

/**
 * One network of this agent, as stored: the predefined {@code bridge}, {@code host} and
 * {@code none}, and the user-defined bridge networks.
 *
 * @param driver {@link #BRIDGE}, {@link #HOST} or {@link #NULL}
 * @param subnet CIDR of a bridge network; empty for the others
 * @param gateway the bridge's own address, the containers' default route; empty for the others
 * @param bridge the host's bridge interface; empty for the others
 * @param internal no outbound NAT and no published ports
 */
public record NetworkRecord(
    String id,
    String name,
    String driver,
    String subnet,
    String gateway,
    String bridge,
    Map<String, String> labels,
    boolean internal,
    Instant created) {
  public static final String BRIDGE = "bridge";
  public static final String HOST = "host";
  public static final String NULL = "null";
  /** The names of the networks every agent has, which cannot be removed. */
  public static final String DEFAULT = "bridge";
  public static final String HOST_NETWORK = "host";
  public static final String NONE = "none";

  public NetworkRecord {
    labels = Map.copyOf(labels == null ? Map.of() : labels);
    subnet = subnet == null ? "" : subnet;
    gateway = gateway == null ? "" : gateway;
    bridge = bridge == null ? "" : bridge;
  }

  @JsonIgnore // derived, not stored
  public boolean isBridge() {
    return driver.equals(BRIDGE);
  }

  /** bridge, host and none: created by the agent, never removed. */
  @JsonIgnore // derived, not stored
  public boolean predefined() {
    return name.equals(DEFAULT) || name.equals(HOST_NETWORK) || name.equals(NONE);
  }

  /** User-defined networks resolve their containers' names; the default bridge does not, as Docker's. */
  @JsonIgnore // derived, not stored
  public boolean resolvesNames() {
    return isBridge() && !name.equals(DEFAULT);
  }

  @JsonIgnore // derived, not stored
  public Subnet parsedSubnet() {
    return Subnet.parse(subnet);
  }
}
