package dev.berth.agent.runtime;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Named volumes: {@code <root>/<name>/_data} holds a volume's files, {@code meta.json} next to
 * it what it is. A volume outlives the containers that mount it; it goes only when removed,
 * and never while a container uses it.
 *
 * <p>Threading: every method is thread-safe (one lock; volume operations are rare and short,
 * except deleting a large volume's data, which happens outside the lock).
 */
public final class VolumeStore {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}");
  private static final SecureRandom RANDOM = new SecureRandom();

  /** One volume. */
  public record Volume(String name, Path mountpoint, Map<String, String> labels, Instant created, boolean anonymous) {
    public Volume {
      labels = Map.copyOf(labels == null ? Map.of() : labels);
    }
  }

  private record Meta(Map<String, String> labels, Instant created, boolean anonymous) {}

  private final Path root;
  private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private final Object lock = new Object();

  public VolumeStore(Path root) throws IOException {
    this.root = Files.createDirectories(root);
  }

  /** Creates a volume, or returns the existing one of that name (as docker volume create does). Empty name: generated. */
  public Volume create(String name, Map<String, String> labels, boolean anonymous) {
    String n = name == null || name.isBlank() ? generatedName() : valid(name);
    synchronized (lock) {
      Optional<Volume> existing = find(n);
      if (existing.isPresent()) {
        return existing.get();
      }
      Path dir = root.resolve(n);
      try {
        Files.createDirectories(dir.resolve("_data"));
        Meta meta = new Meta(labels, Instant.now(), anonymous);
        AtomicFiles.write(dir.resolve("meta.json"), json.writeValueAsBytes(meta));
        return new Volume(n, dir.resolve("_data"), meta.labels(), meta.created(), anonymous);
      } catch (IOException | UncheckedIOException e) {
        deleteTree(dir);
        throw BerthException.internal("cannot create the volume " + n + ": " + e.getMessage(), e);
      }
    }
  }

  public Optional<Volume> find(String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      return Optional.empty();
    }
    Path meta = root.resolve(name).resolve("meta.json");
    if (!Files.isRegularFile(meta, LinkOption.NOFOLLOW_LINKS)) {
      return Optional.empty();
    }
    try {
      Meta m = json.readValue(meta.toFile(), Meta.class);
      return Optional.of(new Volume(name, root.resolve(name).resolve("_data"), m.labels(), m.created(), m.anonymous()));
    } catch (IOException e) {
      throw BerthException.internal("the volume " + name + " is damaged: " + e.getMessage(), e);
    }
  }

  public Volume get(String name) {
    return find(name).orElseThrow(() -> BerthException.notFound("No such volume: " + name));
  }

  public List<Volume> list() {
    synchronized (lock) {
      try (Stream<Path> dirs = Files.list(root)) {
        List<Volume> out = new ArrayList<>();
        for (Path d : (Iterable<Path>) dirs::iterator) {
          find(d.getFileName().toString()).ifPresent(out::add);
        }
        out.sort(Comparator.comparing(Volume::name));
        return out;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /**
   * Removes a volume and its data. {@code inUse} says whether a container mounts it.
   *
   * @throws BerthException NOT_FOUND (unless {@code force}), FAILED_PRECONDITION when in use
   */
  public void remove(String name, boolean force, Predicate<String> inUse) {
    Path trash;
    synchronized (lock) {
      if (find(name).isEmpty()) {
        if (force) {
          return;
        }
        throw BerthException.notFound("No such volume: " + name);
      }
      if (inUse.test(name)) {
        throw BerthException.failedPrecondition("remove " + name + ": volume is in use by a container");
      }
      // Out of sight first (one rename), then deleted outside the lock: a large volume takes a while.
      trash = root.resolve(".trash-" + HexFormat.of().formatHex(RANDOM.generateSeed(6)));
      AtomicFiles.rename(root.resolve(name), trash);
    }
    deleteTree(trash);
  }

  /** Removes every volume no container uses: anonymous ones, or with {@code all} every one. Returns (names, bytes). */
  public Map.Entry<List<String>, Long> prune(boolean all, Predicate<String> inUse) {
    List<String> deleted = new ArrayList<>();
    long bytes = 0;
    for (Volume v : list()) {
      if ((all || v.anonymous()) && !inUse.test(v.name())) {
        long size = size(v.mountpoint());
        try {
          remove(v.name(), true, inUse);
          deleted.add(v.name());
          bytes += size;
        } catch (BerthException e) {
          // taken into use meanwhile: it stays
        }
      }
    }
    return Map.entry(deleted, bytes);
  }

  private static String valid(String name) {
    if (!NAME.matcher(name).matches()) {
      throw BerthException.invalid("invalid volume name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    return name;
  }

  private static String generatedName() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static long size(Path dir) {
    long[] total = {0};
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
          total[0] += attrs.size();
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      // a size is only reported
    }
    return total[0];
  }

  /** Deletes a tree without following symlinks (a volume's content is the container's to shape). */
  private static void deleteTree(Path dir) {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir + ": " + e.getMessage(), e);
    }
  }
}
