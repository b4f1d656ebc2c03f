package dev.berth.agent.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One challenge of a {@code WWW-Authenticate} header (RFC 9110 §11.6.1), e.g. {@code Bearer
 * realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"}.
 *
 * @param scheme lowercase, e.g. {@code bearer} or {@code basic}
 * @param params parameter names lowercase, values unquoted
 */
record Challenge(String scheme, Map<String, String> params) {
  Challenge {
    params = Map.copyOf(params);
  }

  String param(String name) {
    return params.getOrDefault(name, "");
  }

  /** The challenges of all the header values; what cannot be parsed is skipped. */
  static List<Challenge> parse(List<String> headers) {
    List<Challenge> all = new ArrayList<>();
    for (String h : headers) {
      new Scanner(h).challenges(all);
    }
    return all;
  }

  private static final class Scanner {
    private final String s;
    private int i;

    Scanner(String s) {
      this.s = s;
    }

    void challenges(List<Challenge> out) {
      String scheme = null;
      Map<String, String> params = new LinkedHashMap<>();
      while (true) {
        skip();
        if (i >= s.length()) {
          break;
        }
        if (s.charAt(i) == ',') {
          i++;
          continue;
        }
        String token = token();
        if (token.isEmpty()) {
          i++; // not a token character: skip it
          continue;
        }
        int save = i;
        skip();
        if (i < s.length() && s.charAt(i) == '=' && scheme != null) {
          i++;
          skip();
          params.put(token.toLowerCase(Locale.ROOT), i < s.length() && s.charAt(i) == '"' ? quoted() : token());
        } else {
          i = save;
          if (scheme != null) {
            out.add(new Challenge(scheme, params));
          }
          scheme = token.toLowerCase(Locale.ROOT);
          params = new LinkedHashMap<>();
        }
      }
      if (scheme != null) {
        out.add(new Challenge(scheme, params));
      }
    }

    private void skip() {
      while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t')) {
        i++;
      }
    }

    private String token() {
      int start = i;
      while (i < s.length() && "!#$%&'*+-.^_`|~:/".indexOf(s.charAt(i)) >= 0
          || i < s.length() && Character.isLetterOrDigit(s.charAt(i))) {
        i++;
      }
      return s.substring(start, i);
    }

    private String quoted() {
      StringBuilder b = new StringBuilder();
      i++; // the opening quote
      while (i < s.length() && s.charAt(i) != '"') {
        char c = s.charAt(i++);
        if (c == '\\' && i < s.length()) {
          c = s.charAt(i++);
        }
        b.append(c);
      }
      i++; // the closing quote
      return b.toString();
    }
  }
}
