package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReferenceTest {
  private static final String DIGEST = "sha256:" + "ab".repeat(32);

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      busybox                          | docker.io/library/busybox:latest       | busybox:latest
      busybox:1.36                     | docker.io/library/busybox:1.36         | busybox:1.36
      library/busybox                  | docker.io/library/busybox:latest       | busybox:latest
      docker.io/busybox                | docker.io/library/busybox:latest       | busybox:latest
      index.docker.io/library/busybox  | docker.io/library/busybox:latest       | busybox:latest
      user/app:1                       | docker.io/user/app:1                   | user/app:1
      docker.io/user/app:1             | docker.io/user/app:1                   | user/app:1
      docker.io/library/a/b            | docker.io/library/a/b:latest           | library/a/b:latest
      host:5000/repo:tag               | host:5000/repo:tag                     | host:5000/repo:tag
      host:5000/repo                   | host:5000/repo:latest                  | host:5000/repo:latest
      localhost/x                      | localhost/x:latest                     | localhost/x:latest
      localhost:5000/a/b/c:v1.2-rc_3   | localhost:5000/a/b/c:v1.2-rc_3         | localhost:5000/a/b/c:v1.2-rc_3
      registry.example.com/team/app    | registry.example.com/team/app:latest   | registry.example.com/team/app:latest
      Registry.Example.com/app         | Registry.Example.com/app:latest        | Registry.Example.com/app:latest
      [::1]:5000/app:x                 | [::1]:5000/app:x                       | [::1]:5000/app:x
      my-app/sub_dir.x/a--b__c:TAG_1   | docker.io/my-app/sub_dir.x/a--b__c:TAG_1 | my-app/sub_dir.x/a--b__c:TAG_1
      """)
  void normalizes(String input, String full, String familiar) {
    Reference r = Reference.parse(input);
    assertEquals(full, r.toString());
    assertEquals(familiar, r.familiar());
    assertEquals(r, Reference.parse(full), "the full form parses to itself");
    assertEquals(r.hashCode(), Reference.parse(full).hashCode());
  }

  @Test
  void digestReferences() {
    Reference r = Reference.parse("repo@" + DIGEST);
    assertEquals("docker.io/library/repo@" + DIGEST, r.toString());
    assertEquals("repo@" + DIGEST, r.familiar());
    assertEquals(DIGEST, r.digest());
    assertEquals(null, r.tag());
    Reference both = Reference.parse("host:5000/repo:1@" + DIGEST);
    assertEquals("1", both.tag());
    assertEquals("host:5000", both.domain());
    assertEquals("repo", both.path());
    assertEquals("host:5000/repo", both.name());
    assertNotEquals(r, both);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource(delimiter = '|', textBlock = """
      Busybox                      | must be lowercase
      user/App                     | must be lowercase
      busybox:bad tag              | invalid tag "bad tag"
      busybox:-tag                 | invalid tag "-tag"
      busybox:                     | invalid tag ""
      busybox:.x                   | invalid tag ".x"
      repo@sha256:abc              | sha256 needs 64 lowercase hex digits
      repo@md5:0123456789abcdef    | only sha256:<64 hex digits> is supported
      repo@sha256:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB | sha256 needs 64
      a//b                         | empty path component
      /busybox                     | empty path component
      busybox/                     | empty path component
      :tag                         | the repository name is empty
      -app                         | invalid repository name component "-app"
      a_-b                         | invalid repository name component "a_-b"
      a...b                        | invalid repository name component "a...b"
      host:port/app                | invalid registry "host:port"
      -host.com/app                | invalid registry "-host.com"
      abababababababababababababababababababababababababababababababab | 64 hex digits
      """)
  void refuses(String input, String reason) {
    BerthException e = assertThrows(BerthException.class, () -> Reference.parse(input));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().startsWith("invalid reference \"" + input + "\": "), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
  }

  @Test
  void refusesEmptyAndTooLong() {
    assertThrows(BerthException.class, () -> Reference.parse(""));
    assertThrows(BerthException.class, () -> Reference.parse(null));
    BerthException e = assertThrows(BerthException.class, () -> Reference.parse("a/" + "b".repeat(260)));
    assertTrue(e.getMessage().contains("longer than 255"), e.getMessage());
    BerthException tag = assertThrows(BerthException.class, () -> Reference.parse("a:" + "t".repeat(129)));
    assertTrue(tag.getMessage().contains("invalid tag"), tag.getMessage());
  }
}
