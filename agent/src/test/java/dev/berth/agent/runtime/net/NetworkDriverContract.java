package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link NetworkDriver} does, so that the recording fake the runtime's unit tests
 * use cannot drift from {@link LinuxNetworkDriver}. Every test undoes what it made, also when
 * it fails.
 */
abstract class NetworkDriverContract {
  @TempDir Path dir;
  NetworkDriver driver;
  private final List<Path> pins = new ArrayList<>();
  private final List<String> veths = new ArrayList<>();

  /** A fresh driver acting in a network namespace that belongs to the test. */
  abstract NetworkDriver create() throws Exception;

  /** Releases what {@link #create} made. */
  abstract void destroy() throws Exception;

  @BeforeEach
  void setUp() throws Exception {
    driver = create();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      for (int i = 0; i < pins.size(); i++) {
        driver.deleteSandbox(pins.get(i), veths.get(i));
      }
      driver.deleteBridge("btc0");
    } finally {
      destroy();
    }
  }

  Path pin(String name, String veth) {
    Path p = dir.resolve(name);
    pins.add(p);
    veths.add(veth);
    return p;
  }

  @Test
  void aBridgeIsMadeOnceAndRemovedOnce() {
    driver.ensureBridge("btc0", "10.214.0.1", 24);
    driver.ensureBridge("btc0", "10.214.0.1", 24);
    assertTrue(driver.linkExists("btc0"));
    driver.deleteBridge("btc0");
    driver.deleteBridge("btc0");
    assertFalse(driver.linkExists("btc0"));
  }

  @Test
  void aSandboxIsWiredToItsBridgeAndUndoneAnyNumberOfTimes() {
    driver.ensureBridge("btc0", "10.214.0.1", 24);
    Path netns = pin("ns1", "vbtest1");
    driver.createSandbox(netns, "btc0", "vbtest1", "10.214.0.2", 24, "10.214.0.1", "02:42:0a:d6:00:02");
    assertTrue(Files.exists(netns));
    assertTrue(driver.linkExists("vbtest1"));
    driver.deleteSandbox(netns, "vbtest1");
    driver.deleteSandbox(netns, "vbtest1");
    assertFalse(Files.exists(netns));
    assertFalse(driver.linkExists("vbtest1"));
  }

  @Test
  void aSandboxOnAMissingBridgeFailsAndLeavesNothing() {
    Path netns = pin("ns2", "vbtest2");
    assertThrows(BerthException.class,
        () -> driver.createSandbox(netns, "btnone", "vbtest2", "10.214.0.3", 24, "10.214.0.1", "02:42:0a:d6:00:03"));
    assertFalse(Files.exists(netns), "the namespace pin stays");
    assertFalse(driver.linkExists("vbtest2"), "the veth stays");
  }

  @Test
  void aTakenVethNameFailsWithoutHarmingItsOwner() {
    driver.ensureBridge("btc0", "10.214.0.1", 24);
    Path first = pin("ns3", "vbtest3");
    driver.createSandbox(first, "btc0", "vbtest3", "10.214.0.4", 24, "10.214.0.1", "02:42:0a:d6:00:04");
    Path second = dir.resolve("ns4");
    assertThrows(BerthException.class,
        () -> driver.createSandbox(second, "btc0", "vbtest3", "10.214.0.5", 24, "10.214.0.1", "02:42:0a:d6:00:05"));
    assertFalse(Files.exists(second));
    assertTrue(driver.linkExists("vbtest3"), "the first sandbox's veth is gone");
    assertTrue(Files.exists(first));
  }
}
