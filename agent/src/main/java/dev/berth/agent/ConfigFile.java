package dev.berth.agent;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * {@code berthd --config FILE}: the agent's flags as a YAML or JSON file. Each key is the long
 * name of a flag without its dashes ({@code data-dir: /var/lib/berth}, {@code server: true},
 * {@code join: [a:7946, b:7946]}), and means exactly what the flag means.
 *
 * <p>How: the file becomes flags ({@code --data-dir=/var/lib/berth}), put before the command
 * line's own, for each option the command line does not give. picocli then parses them all
 * into one {@code AgentMain} as it parses any command line: the same converters, the same
 * checks, so the file and the flags accept exactly the same values and nothing is declared
 * twice. Leaving out what the command line gives (rather than letting a later flag overwrite
 * an earlier one) is what makes the command line win for every kind of option: a single value
 * replaces the file's, a list ({@code --join}, {@code --insecure-registry}) replaces the file's
 * whole list instead of adding to it, and a boolean is what the command line says.
 *
 * <p>Strict, and before anything starts: an unknown key, a value of the wrong shape (a list or a
 * mapping for a one-value flag, a boolean for a non-boolean flag, nothing at all), a value the
 * flag's converter refuses, a key given twice (also under two names of one flag, {@code node}
 * and {@code node-name}) and a file that cannot be read are each refused with
 * {@code FILE:LINE:COL: reason}, naming the key. Every key is checked even when the command
 * line overrides it. An empty file, one of comments only, or an empty list sets nothing.
 * Stateless and thread-safe.
 */
final class ConfigFile {
  /** The flag that names the file; not itself a key of the file. */
  static final String OPTION = "--config";

  private static final JsonFactory JSON = new JsonFactory();
  private static final YAMLFactory YAML = new YAMLFactory();

  private ConfigFile() {
  }

  /** What is wrong with a config file, as {@code FILE:LINE:COL: reason} (or {@code FILE: reason}). */
  static final class Invalid extends RuntimeException {
    Invalid(Path file, Location at, String reason) {
      super(file + (at == null ? "" : ":" + at.line() + ":" + at.column()) + ": " + reason);
    }
  }

  record Location(int line, int column) {
    static Location of(JsonLocation l) {
      return new Location(l.getLineNr(), l.getColumnNr());
    }
  }

  /** One scalar of the file: its token (string, number, boolean, null) and its text as written. */
  private record Scalar(Location at, JsonToken token, String text) {
    boolean isBoolean() {
      return token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE;
    }
  }

  /** One key of the file with its value: one scalar, or the items of a list. */
  private record Entry(String key, Location at, boolean list, List<Scalar> values) {
  }

  /**
   * The arguments to run with: {@code args} alone when they give no {@value #OPTION} (or do not
   * parse, ask for help or the version: picocli then answers as usual); otherwise the file's
   * options that {@code args} do not give, as flags, followed by {@code args}.
   *
   * @param commandLine makes a fresh command line of berthd (the model and the converters)
   * @throws Invalid when the file is missing, unreadable or wrong
   */
  static String[] expand(Supplier<CommandLine> commandLine, String[] args) {
    CommandLine.ParseResult given;
    try {
      given = commandLine.get().parseArgs(args);
    } catch (CommandLine.ParameterException e) {
      return args;
    }
    if (!given.hasMatchedOption(OPTION) || given.isUsageHelpRequested() || given.isVersionHelpRequested()) {
      return args;
    }
    Path file = given.matchedOptionValue(OPTION, (Path) null);
    List<String> out = new ArrayList<>();
    CommandLine scratch = commandLine.get();
    Map<String, OptionSpec> keys = keys(scratch.getCommandSpec());
    Map<OptionSpec, Entry> seen = new LinkedHashMap<>();
    for (Entry e : read(file)) {
      OptionSpec o = keys.get(e.key());
      if (o == null) {
        throw new Invalid(file, e.at(), unknown(e.key(), keys));
      }
      Entry before = seen.put(o, e);
      if (before != null) {
        throw new Invalid(file, e.at(), before.key().equals(e.key())
            ? "key \"" + e.key() + "\" given twice (first at line " + before.at().line() + ")"
            : "\"" + e.key() + "\" and \"" + before.key() + "\" (line " + before.at().line() + ") are the same option");
      }
      List<String> flags = flags(file, e, o, scratch);
      if (!given.hasMatchedOption(o.longestName())) {
        out.addAll(flags);
      }
    }
    out.addAll(List.of(args));
    return out.toArray(String[]::new);
  }

  /** The file's keys: every long name of every option but help, version and {@value #OPTION} itself. */
  private static Map<String, OptionSpec> keys(CommandSpec spec) {
    Map<String, OptionSpec> keys = new TreeMap<>();
    for (OptionSpec o : spec.options()) {
      if (o.usageHelp() || o.versionHelp() || List.of(o.names()).contains(OPTION)) {
        continue;
      }
      for (String name : o.names()) {
        if (name.startsWith("--")) {
          keys.put(name.substring(2), o);
        }
      }
    }
    return keys;
  }

  /** The flags one entry stands for, each value checked by the option's own converter. */
  private static List<String> flags(Path file, Entry e, OptionSpec o, CommandLine scratch) {
    String name = o.longestName();
    boolean bool = o.typeInfo().isBoolean() && !o.isMultiValue();
    if (e.list() && !o.isMultiValue()) {
      throw new Invalid(file, e.at(), e.key() + " takes one value, not a list");
    }
    List<String> flags = new ArrayList<>();
    for (Scalar v : e.values()) {
      if (v.token() == JsonToken.VALUE_NULL) {
        throw new Invalid(file, v.at(), e.key() + " has no value; leave the key out to keep the default");
      }
      if (bool && !v.isBoolean()) {
        throw new Invalid(file, v.at(), e.key() + " takes true or false, not \"" + v.text() + "\"");
      }
      if (!bool && v.isBoolean()) {
        // YAML 1.1 reads yes, no, on and off as booleans too: a node called "on" must be quoted.
        throw new Invalid(file, v.at(), e.key() + " takes " + label(o) + ", not the boolean " + v.text()
            + " (quote it if you mean the text \"" + v.text() + "\")");
      }
      String flag = name + "=" + (bool ? String.valueOf(v.token() == JsonToken.VALUE_TRUE) : v.text());
      try {
        scratch.parseArgs(flag);
      } catch (CommandLine.ParameterException bad) {
        throw new Invalid(file, v.at(), e.key() + ": " + bad.getMessage());
      }
      flags.add(flag);
    }
    return flags;
  }

  private static String label(OptionSpec o) {
    return o.paramLabel().startsWith("<") ? "a " + o.typeInfo().getClassSimpleName().toLowerCase(Locale.ROOT) : o.paramLabel();
  }

  private static String unknown(String key, Map<String, OptionSpec> keys) {
    String plain = key.replaceFirst("^-+", "").replace('_', '-').toLowerCase(Locale.ROOT);
    String near = null;
    for (String k : keys.keySet()) {
      // Two edits: a typo or a missing letter, not another option that happens to be short.
      if (k.equals(plain) || near == null && distance(k, plain) <= 2 && plain.length() > 3) {
        near = k;
      }
    }
    return "unknown key \"" + key + "\"" + (near != null ? "; did you mean \"" + near + "\"?"
        : "; the keys are berthd's long flags without their dashes (berthd --help)");
  }

  /** Levenshtein distance, for the hint above. */
  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** The file's entries in order; JSON when it ends in .json or starts with '{', YAML otherwise. */
  private static List<Entry> read(Path file) {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(file))).toString();
    } catch (NoSuchFileException e) {
      throw new Invalid(file, null, "no such file");
    } catch (CharacterCodingException e) {
      throw new Invalid(file, null, "not UTF-8 text");
    } catch (IOException e) {
      throw new Invalid(file, null, "cannot read: " + e);
    }
    boolean json = file.toString().toLowerCase(Locale.ROOT).endsWith(".json") || text.stripLeading().startsWith("{");
    List<Entry> entries = new ArrayList<>();
    try (JsonParser p = (json ? JSON : YAML).createParser(text)) {
      JsonToken t = p.nextToken();
      if (t == null) {
        return entries;
      }
      if (t != JsonToken.START_OBJECT) {
        throw new Invalid(file, Location.of(p.currentTokenLocation()),
            "expected a mapping of berthd's long flags to their values, e.g. \"data-dir: /var/lib/berth\"");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String key = p.currentName();
        Location at = Location.of(p.currentTokenLocation());
        JsonToken v = p.nextToken();
        if (v == JsonToken.START_OBJECT) {
          throw new Invalid(file, at, key + " takes a value, not a mapping");
        }
        if (v == JsonToken.START_ARRAY) {
          List<Scalar> items = new ArrayList<>();
          while ((v = p.nextToken()) != JsonToken.END_ARRAY) {
            if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
              throw new Invalid(file, Location.of(p.currentTokenLocation()), key + " takes a list of values, not of "
                  + (v == JsonToken.START_OBJECT ? "mappings" : "lists"));
            }
            items.add(scalar(p));
          }
          entries.add(new Entry(key, at, true, items));
        } else {
          entries.add(new Entry(key, at, false, List.of(scalar(p))));
        }
      }
      if (p.nextToken() != null) {
        throw new Invalid(file, Location.of(p.currentTokenLocation()), "more than one document in the file");
      }
    } catch (JsonProcessingException e) {
      JsonLocation l = e.getLocation();
      throw new Invalid(file, l == null ? null : Location.of(l), "syntax error: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new Invalid(file, null, "cannot read: " + e);
    }
    return entries;
  }

  private static Scalar scalar(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    return new Scalar(Location.of(p.currentTokenLocation()), t, t == JsonToken.VALUE_NULL ? null : p.getText());
  }
}
