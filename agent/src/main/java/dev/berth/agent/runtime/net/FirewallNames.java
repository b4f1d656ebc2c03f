package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.util.Locale;

/** The names the firewall writes into scripts and paths, checked so they cannot change their meaning. */
final class FirewallNames {
  private FirewallNames() {}

  /**
   * Refuses what is not a plausible Linux interface name: 1 to 15 characters of letters,
   * digits and {@code _.@+-}; so no slash, quote or white space.
   *
   * @throws BerthException INVALID_ARGUMENT naming it
   */
  static void checkInterface(String name) {
    if (name == null || !name.matches("[A-Za-z0-9_.@+-]{1,15}") || name.equals(".") || name.equals("..")) {
      throw BerthException.invalid("invalid interface name \"" + name + "\": 1 to 15 letters, digits or _.@+-");
    }
  }

  /**
   * The nft table name for an agent prefix: lower case, every character other than a letter,
   * digit, {@code _} or {@code -} replaced by {@code _}, "berth-" put in front when it does not
   * start with a letter (nft identifiers must), "berth" when empty, at most 64 characters.
   */
  static String table(String prefix) {
    String name = (prefix == null ? "" : prefix).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_-]", "_");
    if (name.isEmpty()) {
      name = "berth";
    } else if (name.charAt(0) < 'a' || name.charAt(0) > 'z') {
      name = "berth-" + name;
    }
    return name.length() > 64 ? name.substring(0, 64) : name;
  }
}
