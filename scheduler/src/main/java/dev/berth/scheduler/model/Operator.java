package dev.berth.scheduler.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The comparison a {@link Constraint} or {@link Affinity} makes with a node's property. */
public enum Operator {
  EQ("=="),
  NE("!="),
  /** The property is one of a comma-separated list. */
  IN("in"),
  /** The property is none of a comma-separated list (or absent). */
  NOT_IN("not_in"),
  /** The property matches a Java regular expression somewhere ({@code find}, not full match). */
  REGEXP("regexp"),
  /** The property, read as a version, satisfies every term of e.g. {@code ">= 5.10, < 7"}. */
  VERSION("version"),
  /** The node has the property at all. */
  IS_SET("is_set"),
  /** The node does not have the property. */
  IS_NOT_SET("is_not_set");

  private final String symbol;

  Operator(String symbol) {
    this.symbol = symbol;
  }

  /** How job files spell it. */
  public String symbol() {
    return symbol;
  }

  /**
   * The operator a job file names; {@code =} is accepted for {@code ==}.
   *
   * @throws IllegalArgumentException naming the known ones
   */
  public static Operator parse(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    if (t.equals("=")) {
      return EQ;
    }
    for (Operator op : values()) {
      if (op.symbol.equals(t)) {
        return op;
      }
    }
    throw new IllegalArgumentException("unknown operator \"" + text + "\" (known: " + known() + ")");
  }

  public static String known() {
    return Arrays.stream(values()).map(Operator::symbol).collect(Collectors.joining(", "));
  }

  /** Whether it compares against a value (all but is_set / is_not_set). */
  public boolean needsValue() {
    return this != IS_SET && this != IS_NOT_SET;
  }
}
