package dev.berth.scheduler.model;

import java.util.ArrayList;
import java.util.List;

/**
 * A dotted numeric version read leniently from what hosts report: the leading run of
 * {@code digits(.digits)*} counts and the rest is ignored, so {@code 6.1.0-21-amd64} is 6.1.0
 * and {@code v1.2} is 1.2. Missing components are zero ({@code 5.10} equals {@code 5.10.0}).
 */
public final class Version implements Comparable<Version> {

  private final long[] parts;

  private Version(long[] parts) {
    this.parts = parts;
  }

  /** The version in {@code text}, or null when it starts with no number at all. */
  public static Version parse(String text) {
    if (text == null) {
      return null;
    }
    String s = text.trim();
    int i = 0;
    if (i < s.length() && (s.charAt(i) == 'v' || s.charAt(i) == 'V')) {
      i++;
    }
    List<Long> parts = new ArrayList<>();
    while (i < s.length() && Character.isDigit(s.charAt(i))) {
      long v = 0;
      while (i < s.length() && Character.isDigit(s.charAt(i))) {
        v = Math.min(v * 10 + (s.charAt(i) - '0'), Long.MAX_VALUE / 10);
        i++;
      }
      parts.add(v);
      if (i + 1 < s.length() && s.charAt(i) == '.' && Character.isDigit(s.charAt(i + 1))) {
        i++;
      } else {
        break;
      }
    }
    if (parts.isEmpty()) {
      return null;
    }
    return new Version(parts.stream().mapToLong(Long::longValue).toArray());
  }

  @Override
  public int compareTo(Version o) {
    int n = Math.max(parts.length, o.parts.length);
    for (int i = 0; i < n; i++) {
      long a = i < parts.length ? parts[i] : 0;
      long b = i < o.parts.length ? o.parts[i] : 0;
      if (a != b) {
        return Long.compare(a, b);
      }
    }
    return 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Version v && compareTo(v) == 0;
  }

  @Override
  public int hashCode() {
    int n = parts.length;
    while (n > 0 && parts[n - 1] == 0) {
      n--;
    }
    int h = 1;
    for (int i = 0; i < n; i++) {
      h = 31 * h + Long.hashCode(parts[i]);
    }
    return h;
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < parts.length; i++) {
      b.append(i == 0 ? "" : ".").append(parts[i]);
    }
    return b.toString();
  }
}
