package dev.berth.agent.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A parsed Prometheus text exposition, for assertions: each sample's name, labels and value. */
record Scrape(List<Sample> samples) {
  record Sample(String name, Map<String, String> labels, double value) {}

  static Scrape parse(String text) {
    List<Sample> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String name;
      Map<String, String> labels = new LinkedHashMap<>();
      int brace = line.indexOf('{');
      int valueStart;
      if (brace >= 0 && brace < line.indexOf(' ')) {
        name = line.substring(0, brace);
        int i = brace + 1;
        while (line.charAt(i) != '}') {
          int eq = line.indexOf('=', i);
          String key = line.substring(i, eq).trim();
          StringBuilder v = new StringBuilder();
          int j = eq + 2;
          while (line.charAt(j) != '"') {
            if (line.charAt(j) == '\\') {
              j++;
              v.append(line.charAt(j) == 'n' ? '\n' : line.charAt(j));
            } else {
              v.append(line.charAt(j));
            }
            j++;
          }
          labels.put(key, v.toString());
          i = j + 1;
          if (line.charAt(i) == ',') {
            i++;
          }
        }
        valueStart = i + 2;
      } else {
        int sp = line.indexOf(' ');
        name = line.substring(0, sp);
        valueStart = sp + 1;
      }
      String value = line.substring(valueStart).trim().split(" ")[0];
      out.add(new Sample(name, labels, Double.parseDouble(value.replace("+Inf", "Infinity"))));
    }
    return new Scrape(out);
  }

  Set<String> names() {
    Set<String> names = new LinkedHashSet<>();
    samples.forEach(s -> names.add(s.name()));
    return names;
  }

  List<Sample> series(String name) {
    return samples.stream().filter(s -> s.name().equals(name)).toList();
  }

  /** The value of the one sample of {@code name} whose labels include {@code labels}. */
  double value(String name, Map<String, String> labels) {
    List<Sample> found = series(name).stream()
        .filter(s -> labels.entrySet().stream().allMatch(e -> e.getValue().equals(s.labels().get(e.getKey())))).toList();
    if (found.size() != 1) {
      throw new AssertionError(found.size() + " samples of " + name + " with " + labels + ": " + series(name));
    }
    return found.get(0).value();
  }
}
