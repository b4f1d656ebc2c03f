package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Mount;
import dev.berth.proto.v1.RemoveContainerRequest;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** -v, --mount and --tmpfs of run and create into ContainerSpec.mounts; rm -v; mounts in inspect. */
@Timeout(30)
class MountFlagsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private static Mount volume(String source, String target) {
    return Mount.newBuilder().setType(Mount.Type.VOLUME).setSource(source).setTarget(target).build();
  }

  private static Mount bind(String source, String target, boolean ro) {
    return Mount.newBuilder().setType(Mount.Type.BIND).setSource(source).setTarget(target).setReadOnly(ro).build();
  }

  /** -v of a host path: a bind mount that creates a missing source directory, as docker run -v does. */
  private static Mount dashV(String source, String target, boolean ro) {
    return bind(source, target, ro).toBuilder().setCreateHostPath(true).build();
  }

  private static Mount tmpfs(String target, long size, int mode) {
    return Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget(target).setTmpfsSizeBytes(size).setTmpfsMode(mode).build();
  }

  static Stream<Arguments> mountCases() {
    return Stream.of(
        Arguments.of(List.of("-v", "/data"), List.of(volume("", "/data"))),
        Arguments.of(List.of("-v", "cache:/var/cache"), List.of(volume("cache", "/var/cache"))),
        Arguments.of(List.of("--volume=my_vol.1-x:/d:ro"), List.of(volume("my_vol.1-x", "/d").toBuilder().setReadOnly(true).build())),
        Arguments.of(List.of("-v", "/srv/www:/usr/share/www"), List.of(dashV("/srv/www", "/usr/share/www", false))),
        Arguments.of(List.of("-v", "/srv:/srv:ro"), List.of(dashV("/srv", "/srv", true))),
        Arguments.of(List.of("-v", "/srv:/srv:rw"), List.of(dashV("/srv", "/srv", false))),
        Arguments.of(List.of("-v", "/srv:/srv:ro,ro"), List.of(dashV("/srv", "/srv", true))),
        Arguments.of(List.of("--mount", "type=bind,source=/h,target=/c"), List.of(bind("/h", "/c", false))),
        Arguments.of(List.of("--mount", "type=bind,src=/h,dst=/c,readonly"), List.of(bind("/h", "/c", true))),
        Arguments.of(List.of("--mount", "type=bind,src=/h,destination=/c,ro=true"), List.of(bind("/h", "/c", true))),
        Arguments.of(List.of("--mount", "type=bind,src=/h,target=/c,readonly=false"), List.of(bind("/h", "/c", false))),
        Arguments.of(List.of("--mount", "Type=BIND,Source=/h,Target=/c,RO=1"), List.of(bind("/h", "/c", true))),
        Arguments.of(List.of("--mount", "type=volume,src=db,dst=/db,volume-nocopy"),
            List.of(volume("db", "/db").toBuilder().setNoCopy(true).build())),
        Arguments.of(List.of("--mount", "type=bind,\"src=/a,b\",target=/c"), List.of(bind("/a,b", "/c", false))),
        Arguments.of(List.of("--mount", "type=volume,source=data,target=/data"), List.of(volume("data", "/data"))),
        Arguments.of(List.of("--mount", "target=/data"), List.of(volume("", "/data"))),
        Arguments.of(List.of("--mount", "src=data,target=/data,readonly"), List.of(volume("data", "/data").toBuilder().setReadOnly(true).build())),
        Arguments.of(List.of("--mount", "type=tmpfs,target=/run"), List.of(tmpfs("/run", 0, 0))),
        Arguments.of(List.of("--mount", "type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770"), List.of(tmpfs("/run", 64L << 20, 01770))),
        Arguments.of(List.of("--mount", "type=tmpfs,dst=/run,tmpfs-size=1048576"), List.of(tmpfs("/run", 1 << 20, 0))),
        Arguments.of(List.of("--mount", "type=tmpfs,dst=/run,tmpfs-size=1.5g"), List.of(tmpfs("/run", 3L << 29, 0))),
        Arguments.of(List.of("--mount", "type=tmpfs,dst=/run,tmpfs-size=512KiB"), List.of(tmpfs("/run", 512L << 10, 0))),
        Arguments.of(List.of("--tmpfs", "/run"), List.of(tmpfs("/run", 0, 0))),
        Arguments.of(List.of("--tmpfs", "/run:size=64m,mode=1777"), List.of(tmpfs("/run", 64L << 20, 01777))),
        Arguments.of(List.of("--tmpfs", "/run:mode=700"), List.of(tmpfs("/run", 0, 0700))),
        Arguments.of(List.of("--tmpfs", "/run:ro,size=1g"), List.of(tmpfs("/run", 1L << 30, 0).toBuilder().setReadOnly(true).build())),
        Arguments.of(List.of("--tmpfs", "/tmp", "-v", "/h:/h", "--mount", "target=/m", "-v", "/a", "--tmpfs", "/b"),
            List.of(tmpfs("/tmp", 0, 0), dashV("/h", "/h", false), volume("", "/m"), volume("", "/a"), tmpfs("/b", 0, 0))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mountCases")
  void flagsBecomeMountsInOrder(List<String> flags, List<Mount> expected) {
    for (String command : List.of("create", "run")) {
      cli.daemon.requests.clear();
      String[] argv = Stream.of(List.of(command), command.equals("run") ? List.of("-d") : List.<String>of(), flags, List.of("alpine"))
          .flatMap(List::stream).toArray(String[]::new);
      CliRunner.Result r = cli.run(argv);
      assertEquals(0, r.code(), r.err());
      List<CreateContainerRequest> reqs = cli.daemon.requests(CreateContainerRequest.class);
      assertEquals(1, reqs.size());
      assertEquals(expected, reqs.get(0).getSpec().getMountsList(), command);
    }
  }

  static Stream<Arguments> mountErrors() {
    String v = "invalid -v/--volume ";
    String m = "invalid --mount ";
    String t = "invalid --tmpfs ";
    return Stream.of(
        Arguments.of(List.of("-v", "data"), v + "\"data\": the target \"data\" must be an absolute path in the container; accepted: [SRC:]DST[:OPTS]"),
        Arguments.of(List.of("-v", "data:rel"), v + "\"data:rel\": the target \"rel\" must be an absolute path"),
        Arguments.of(List.of("-v", ""), v + "\"\": the target path is empty"),
        Arguments.of(List.of("-v", "data:"), v + "\"data:\": the target path is empty"),
        Arguments.of(List.of("-v", ":/x"), v + "\":/x\": the source is empty"),
        Arguments.of(List.of("-v", "data:/"), v + "\"data:/\": the target cannot be \"/\""),
        Arguments.of(List.of("-v", "/x:ro"), v + "\"/x:ro\": \"ro\" must follow a source and a target"),
        Arguments.of(List.of("-v", "/h:/c:z"), v + "\"/h:/c:z\": option \"z\" is not supported; accepted: [SRC:]DST[:OPTS] with SRC an absolute host path or a volume name, DST an absolute path and OPTS ro or rw"),
        Arguments.of(List.of("-v", "/h:/c:ro,Z"), v + "\"/h:/c:ro,Z\": option \"Z\" is not supported"),
        Arguments.of(List.of("-v", "/h:/c:ro,rw"), v + "\"/h:/c:ro,rw\": ro and rw contradict each other"),
        Arguments.of(List.of("-v", "/h:/c:ro:x"), v + "\"/h:/c:ro:x\": too many colons"),
        Arguments.of(List.of("-v", "./data:/c"), v + "\"./data:/c\": \"./data\" includes invalid characters for a local volume name"),
        Arguments.of(List.of("--mount", "type=bind,source=rel,target=/c"), m + "\"type=bind,source=rel,target=/c\": the bind source \"rel\" must be an absolute host path; accepted: type=bind|volume|tmpfs"),
        Arguments.of(List.of("--mount", "type=bind,target=/c"), m + "\"type=bind,target=/c\": type=bind needs a source"),
        Arguments.of(List.of("--mount", "type=bind,source=/h"), m + "\"type=bind,source=/h\": target is required"),
        Arguments.of(List.of("--mount", "type=volume,target=rel"), m + "\"type=volume,target=rel\": the target \"rel\" must be an absolute path"),
        Arguments.of(List.of("--mount", "type=nfs,target=/c"), m + "\"type=nfs,target=/c\": unknown type \"nfs\""),
        Arguments.of(List.of("--mount", "type=bind,src=/h,target=/c,bind-propagation=shared"), m + "\"type=bind,src=/h,target=/c,bind-propagation=shared\": unknown field \"bind-propagation\""),
        Arguments.of(List.of("--mount", "target=/c,colour=blue"), m + "\"target=/c,colour=blue\": unknown field \"colour\""),
        Arguments.of(List.of("--mount", "target=/c,nocopy"), m + "\"target=/c,nocopy\": field \"nocopy\" must be a key=value pair"),
        Arguments.of(List.of("--mount", "target=/c,readonly=maybe"), m + "\"target=/c,readonly=maybe\": invalid value for readonly: \"maybe\" (true or false)"),
        Arguments.of(List.of("--mount", "type=tmpfs,source=x,target=/c"), m + "\"type=tmpfs,source=x,target=/c\": type=tmpfs takes no source"),
        Arguments.of(List.of("--mount", "type=bind,src=/h,target=/c,tmpfs-size=1m"), m + "\"type=bind,src=/h,target=/c,tmpfs-size=1m\": tmpfs-size applies to type=tmpfs only, not type=bind"),
        Arguments.of(List.of("--mount", "type=tmpfs,target=/c,tmpfs-size=lots"), m + "\"type=tmpfs,target=/c,tmpfs-size=lots\": invalid size \"lots\" (a number of bytes, or with a unit: 64m, 1g, 512k)"),
        Arguments.of(List.of("--mount", "type=tmpfs,target=/c,tmpfs-size=-1m"), m + "\"type=tmpfs,target=/c,tmpfs-size=-1m\": invalid size \"-1m\""),
        Arguments.of(List.of("--mount", "type=tmpfs,target=/c,tmpfs-mode=999"), m + "\"type=tmpfs,target=/c,tmpfs-mode=999\": invalid mode \"999\" (octal, 1 to 7777, e.g. 1777)"),
        Arguments.of(List.of("--mount", "type=bind,\"src=/h,target=/c"), m + "\"type=bind,\"src=/h,target=/c\": unterminated quote"),
        Arguments.of(List.of("--tmpfs", "run"), t + "\"run\": the target \"run\" must be an absolute path in the container; accepted: PATH[:OPTS]"),
        Arguments.of(List.of("--tmpfs", ":size=1m"), t + "\":size=1m\": the target path is empty"),
        Arguments.of(List.of("--tmpfs", "/run:size=1x"), t + "\"/run:size=1x\": invalid size \"1x\""),
        Arguments.of(List.of("--tmpfs", "/run:noexec"), t + "\"/run:noexec\": option \"noexec\" is not supported; accepted: PATH[:OPTS] with PATH absolute and OPTS a comma list of size=SIZE, mode=OCTAL, ro, rw"),
        Arguments.of(List.of("--tmpfs", "/run:mode=0"), t + "\"/run:mode=0\": invalid mode \"0\""),
        Arguments.of(List.of("-v", "a:/x", "--tmpfs", "/x/"), "duplicate mount point: /x/"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("mountErrors")
  void badMountFlagsExit125(List<String> flags, String message) {
    for (String command : List.of("create", "run")) {
      String[] argv = Stream.of(List.of(command), flags, List.of("alpine")).flatMap(List::stream).toArray(String[]::new);
      CliRunner.Result r = cli.run(argv);
      assertEquals(125, r.code(), r.err());
      assertTrue(r.err().startsWith("berth: " + message), r.err());
      assertTrue(r.err().contains("See 'berth " + command + " --help'."), r.err());
      assertEquals("", r.out());
    }
    assertTrue(cli.daemon.requests.isEmpty(), "no request for a usage error");
  }

  @Test
  void rmWithVolumesAsksForThemToGo() {
    cli.run("create", "--name", "web", "-v", "/data", "alpine");
    CliRunner.Result r = cli.run("rm", "-v", "web");
    assertEquals(0, r.code(), r.err());
    assertEquals("web\n", r.out());
    r = cli.run("rm", "--volumes", "-f", "web");
    assertEquals(0, r.code(), r.err());
    cli.run("rm", "web");
    assertEquals(List.of(
        RemoveContainerRequest.newBuilder().setId("web").setVolumes(true).build(),
        RemoveContainerRequest.newBuilder().setId("web").setVolumes(true).setForce(true).build(),
        RemoveContainerRequest.newBuilder().setId("web").build()), cli.daemon.requests(RemoveContainerRequest.class));
  }

  @Test
  void inspectShowsMountsLikeDocker() {
    cli.daemon.containers.put("abc", Container.newBuilder().setId("abc").setName("web")
        .addMounts(volume("3f2e1d", "/data"))
        .addMounts(bind("/srv", "/srv", true))
        .addMounts(tmpfs("/run", 1 << 20, 01777)).build());
    CliRunner.Result r = cli.run("inspect", "web");
    assertEquals(0, r.code(), r.err());
    String out = r.out();
    String expected = """
            "Mounts": [
                {
                    "Type": "volume",
                    "Name": "3f2e1d",
                    "Source": "",
                    "Destination": "/data",
                    "Driver": "local",
                    "Mode": "",
                    "RW": true,
                    "Propagation": ""
                },
                {
                    "Type": "bind",
                    "Source": "/srv",
                    "Destination": "/srv",
                    "Mode": "",
                    "RW": false,
                    "Propagation": "rprivate"
                },
                {
                    "Type": "tmpfs",
                    "Source": "",
                    "Destination": "/run",
                    "Mode": "",
                    "RW": true,
                    "Propagation": ""
                }
            ],
    """;
    assertTrue(out.contains(expected), out);
    cli.daemon.containers.put("def", Container.newBuilder().setId("def").setName("bare").build());
    assertTrue(cli.run("inspect", "bare").out().contains("        \"Mounts\": [],\n"));
  }
}
