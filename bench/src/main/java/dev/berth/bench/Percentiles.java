package dev.berth.bench;

import java.util.List;

/** The statistics every benchmark reports, computed one way. */
final class Percentiles {
  private Percentiles() {}

  static long median(List<Long> v) {
    return pct(v, 0.5);
  }

  /** Nearest-rank percentile; the median of an even count is the mean of the middle two; 0 when empty. */
  static long pct(List<Long> v, double q) {
    if (v.isEmpty()) {
      return 0;
    }
    long[] a = v.stream().mapToLong(Long::longValue).sorted().toArray();
    if (q == 0.5) {
      int m = a.length / 2;
      return a.length % 2 == 1 ? a[m] : (a[m - 1] + a[m]) / 2;
    }
    int rank = (int) Math.ceil(q * a.length);
    return a[Math.max(0, Math.min(a.length - 1, rank - 1))];
  }
}
