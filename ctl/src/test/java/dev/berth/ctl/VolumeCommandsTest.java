package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.CreateVolumeRequest;
import dev.berth.proto.v1.ListVolumesRequest;
import dev.berth.proto.v1.PruneVolumesRequest;
import dev.berth.proto.v1.RemoveVolumeRequest;
import dev.berth.proto.v1.Volume;
import dev.berth.proto.v1.VolumeRef;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** volume create, ls, inspect, rm and prune: the requests made and what the user sees. */
@Timeout(30)
class VolumeCommandsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private void put(String name, boolean anonymous, String... usedBy) {
    cli.daemon.volumes.put(name, Volume.newBuilder().setName(name).setMountpoint("/var/lib/berth/volumes/" + name + "/_data")
        .setCreatedUnixNanos(CliRunner.NOW_NANOS - 7_200_000_000_000L + 123_456_789).setAnonymous(anonymous)
        .addAllUsedBy(List.of(usedBy)).build());
  }

  @Test
  void createPrintsTheNameAndSendsTheLabels() {
    CliRunner.Result r = cli.run("volume", "create", "--label", "app=web", "--label", "tier", "data");
    assertEquals(0, r.code(), r.err());
    assertEquals("data\n", r.out());
    assertEquals(CreateVolumeRequest.newBuilder().setName("data").putLabels("app", "web").putLabels("tier", "").build(),
        cli.daemon.requests(CreateVolumeRequest.class).get(0));
  }

  @Test
  void createWithoutANamePrintsTheGeneratedOne() {
    CliRunner.Result r = cli.run("volume", "create");
    assertEquals(0, r.code(), r.err());
    assertEquals(cli.daemon.generatedVolume + "\n", r.out());
    assertEquals(CreateVolumeRequest.getDefaultInstance(), cli.daemon.requests(CreateVolumeRequest.class).get(0));
  }

  @Test
  void createRefusesOtherDrivers() {
    CliRunner.Result r = cli.run("volume", "create", "-d", "nfs", "x");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("volume driver \"nfs\" is not supported"), r.err());
    assertTrue(cli.daemon.requests.isEmpty());
    assertEquals(0, cli.run("volume", "create", "--driver", "local", "x").code());
  }

  @Test
  void lsIsDockersTable() {
    put("data", false);
    put("a-much-longer-volume-name", true, "abc");
    CliRunner.Result r = cli.run("volume", "ls");
    assertEquals(0, r.code(), r.err());
    assertEquals("DRIVER    VOLUME NAME\nlocal     data\nlocal     a-much-longer-volume-name\n", r.out());
    assertEquals(List.of(ListVolumesRequest.getDefaultInstance()), cli.daemon.requests(ListVolumesRequest.class));
    assertEquals(r.out(), cli.run("volume", "list").out());
  }

  @Test
  void lsQuietPrintsNamesOnly() {
    put("data", false);
    put("logs", true);
    assertEquals("data\nlogs\n", cli.run("volume", "ls", "-q").out());
    assertEquals("DRIVER    VOLUME NAME\n", cli.run("volume", "ls").out().replace("local     data\nlocal     logs\n", ""));
  }

  @Test
  void lsJsonIsOneObjectPerLine() {
    cli.daemon.volumes.put("data", Volume.newBuilder().setName("data").setMountpoint("/m/data").putLabels("b", "2").putLabels("a", "1")
        .addUsedBy("c1").addUsedBy("c2").build());
    CliRunner.Result r = cli.run("volume", "ls", "--format", "json");
    assertEquals(0, r.code(), r.err());
    assertEquals("{\"Availability\":\"N/A\",\"Driver\":\"local\",\"Group\":\"N/A\",\"Labels\":\"a=1,b=2\",\"Links\":\"2\","
        + "\"Mountpoint\":\"/m/data\",\"Name\":\"data\",\"Scope\":\"local\",\"Size\":\"N/A\",\"Status\":\"N/A\"}\n", r.out());
  }

  @Test
  void lsRejectsOtherFormats() {
    CliRunner.Result r = cli.run("volume", "ls", "--format", "{{.Name}}");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("use table or json"), r.err());
  }

  @Test
  void inspectIsAPrettyDockerStyleArrayWithMissingOnesAfter() {
    put("data", false, "abc", "def");
    cli.daemon.volumes.put("data", cli.daemon.volumes.get("data").toBuilder().putLabels("app", "web").build());
    CliRunner.Result r = cli.run("volume", "inspect", "data", "nope");
    assertEquals(1, r.code());
    assertEquals("""
        [
            {
                "CreatedAt": "2024-05-01T10:00:00Z",
                "Driver": "local",
                "Labels": {
                    "app": "web"
                },
                "Mountpoint": "/var/lib/berth/volumes/data/_data",
                "Name": "data",
                "Options": null,
                "Scope": "local",
                "UsedBy": [
                    "abc",
                    "def"
                ]
            }
        ]
        """, r.out());
    assertEquals("Error response from daemon: get nope: no such volume\n", r.err());
    assertEquals(List.of(VolumeRef.newBuilder().setName("data").build(), VolumeRef.newBuilder().setName("nope").build()),
        cli.daemon.requests(VolumeRef.class));
  }

  @Test
  void rmEchoesEachAndGoesOnAfterAFailure() {
    put("data", false);
    put("busy", false, "abc");
    put("logs", false);
    CliRunner.Result r = cli.run("volume", "rm", "data", "busy", "logs");
    assertEquals(1, r.code());
    assertEquals("data\nlogs\n", r.out());
    assertEquals("Error response from daemon: remove busy: volume is in use - [abc]\n", r.err());
    assertEquals(List.of(RemoveVolumeRequest.newBuilder().setName("data").build(), RemoveVolumeRequest.newBuilder().setName("busy").build(),
        RemoveVolumeRequest.newBuilder().setName("logs").build()), cli.daemon.requests(RemoveVolumeRequest.class));
  }

  @Test
  void rmForceRemovesOneInUse() {
    put("busy", false, "abc");
    CliRunner.Result r = cli.run("volume", "rm", "-f", "busy");
    assertEquals(0, r.code(), r.err());
    assertEquals("busy\n", r.out());
    assertTrue(cli.daemon.requests(RemoveVolumeRequest.class).get(0).getForce());
    assertTrue(cli.daemon.volumes.isEmpty());
  }

  @Test
  void pruneRemovesUnusedAnonymousVolumes() {
    put("named", false);
    put("anon1", true);
    put("anon2", true, "abc");
    CliRunner.Result r = cli.run("volume", "prune", "-f");
    assertEquals(0, r.code(), r.err());
    assertEquals("Deleted Volumes:\nanon1\n\nTotal reclaimed space: 1.2MB\n", r.out());
    assertEquals(PruneVolumesRequest.getDefaultInstance(), cli.daemon.requests(PruneVolumesRequest.class).get(0));
  }

  @Test
  void pruneAllAndNothingToDelete() {
    put("named", false);
    CliRunner.Result r = cli.run("volume", "prune", "--all", "--force");
    assertEquals("Deleted Volumes:\nnamed\n\nTotal reclaimed space: 1.2MB\n", r.out());
    assertTrue(cli.daemon.requests(PruneVolumesRequest.class).get(0).getAll());
    r = cli.run("volume", "prune", "-a", "-f");
    assertEquals(0, r.code(), r.err());
    assertEquals("Total reclaimed space: 0B\n", r.out());
  }

  @Test
  void pruneWithoutForceAndNoTerminalRefuses() {
    CliRunner.Result r = cli.run("volume", "prune");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("give -f"), r.err());
    assertTrue(cli.daemon.requests.isEmpty());
  }

  @Test
  void volumeAloneListsItsCommandsAndTopLevelHelpNamesIt() {
    CliRunner.Result r = cli.run("volume");
    assertEquals(0, r.code(), r.err());
    for (String sub : List.of("create", "ls", "inspect", "rm", "prune")) {
      assertTrue(r.out().contains("  " + sub), r.out());
    }
    assertTrue(cli.run("--help").out().contains("volume"));
  }

  @Test
  void usageErrorsExit2() {
    CliRunner.Result r = cli.run("volume", "rm");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("Missing required parameter"), r.err());
    r = cli.run("volume", "frobnicate");
    assertEquals(2, r.code());
  }
}
