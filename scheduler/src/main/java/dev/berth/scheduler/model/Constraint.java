package dev.berth.scheduler.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;

/**
 * A hard requirement on a node property: a node that does not satisfy it is never chosen.
 *
 * @param target   what is compared: {@code label.KEY}, {@code attr.KEY}, {@code node.id} or
 *                 {@code node.name}
 * @param operator how
 * @param value    what with: a value, a comma-separated list ({@code in}, {@code not_in}), a
 *                 regular expression, or version terms ({@code ">= 5.10, < 7"}); empty for
 *                 {@code is_set} and {@code is_not_set}
 */
public record Constraint(String target, Operator operator, String value) {

  /** @throws IllegalArgumentException with the reason when the value cannot be used */
  public Constraint {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(operator, "operator");
    value = value == null ? "" : value;
    if (!Node.isPropertyTarget(target)) {
      throw new IllegalArgumentException("unknown attribute \"" + target
          + "\" (use label.KEY, attr.KEY, node.id or node.name)");
    }
    matcher(operator, value); // validates
  }

  /** Whether a node property value (null when the node has none) satisfies it. */
  public Predicate<String> matcher() {
    return matcher(operator, value);
  }

  @Override
  public String toString() {
    return target + " " + operator.symbol() + (operator.needsValue() ? " " + value : "");
  }

  /**
   * Compiles an operator and value into a test of a node's property, once per task group rather
   * than once per node.
   *
   * @throws IllegalArgumentException when the value is unusable for the operator
   */
  static Predicate<String> matcher(Operator operator, String value) {
    switch (operator) {
      case EQ:
        return value::equals;
      case NE:
        return v -> !value.equals(v);
      case IN: {
        Set<String> set = list(value);
        return v -> v != null && set.contains(v);
      }
      case NOT_IN: {
        Set<String> set = list(value);
        return v -> v == null || !set.contains(v);
      }
      case REGEXP: {
        Pattern p;
        try {
          p = Pattern.compile(value);
        } catch (PatternSyntaxException e) {
          throw new IllegalArgumentException("bad regular expression \"" + value + "\": "
              + e.getDescription());
        }
        return v -> v != null && p.matcher(v).find();
      }
      case VERSION:
        return versionMatcher(value);
      case IS_SET:
        return Objects::nonNull;
      case IS_NOT_SET:
        return Objects::isNull;
      default:
        throw new AssertionError(operator);
    }
  }

  private static Set<String> list(String value) {
    Set<String> set = Arrays.stream(value.split(",")).map(String::trim)
        .filter(s -> !s.isEmpty()).collect(Collectors.toUnmodifiableSet());
    if (set.isEmpty()) {
      throw new IllegalArgumentException("empty list \"" + value + "\"");
    }
    return set;
  }

  private static Predicate<String> versionMatcher(String value) {
    List<Predicate<Version>> terms = new ArrayList<>();
    for (String raw : value.split(",")) {
      String term = raw.trim();
      String op = "=";
      for (String candidate : new String[] {">=", "<=", "!=", "==", ">", "<", "="}) {
        if (term.startsWith(candidate)) {
          op = candidate;
          term = term.substring(candidate.length()).trim();
          break;
        }
      }
      Version want = Version.parse(term);
      if (want == null || !term.matches("[vV]?\\d+(\\.\\d+)*")) {
        throw new IllegalArgumentException("bad version term \"" + raw.trim()
            + "\" (expected e.g. \">= 5.10\", terms separated by commas)");
      }
      terms.add(switch (op) {
        case ">=" -> v -> v.compareTo(want) >= 0;
        case "<=" -> v -> v.compareTo(want) <= 0;
        case ">" -> v -> v.compareTo(want) > 0;
        case "<" -> v -> v.compareTo(want) < 0;
        case "!=" -> v -> v.compareTo(want) != 0;
        default -> v -> v.compareTo(want) == 0;
      });
    }
    return s -> {
      Version v = Version.parse(s);
      if (v == null) {
        return false;
      }
      for (Predicate<Version> t : terms) {
        if (!t.test(v)) {
          return false;
        }
      }
      return true;
    };
  }
}
