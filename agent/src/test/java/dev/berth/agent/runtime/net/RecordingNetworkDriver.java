package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link NetworkDriver} for unit tests: keeps bridges and sandboxes in memory and records
 * every call, without root. What callers can observe follows the kernel, as
 * {@link NetworkDriverContract} checks against {@link LinuxNetworkDriver}:
 * <ul>
 *   <li>a sandbox's pin is a real (empty) file, created by {@code createSandbox} and removed by
 *       {@code deleteSandbox}; an existing pin makes {@code createSandbox} fail;
 *   <li>{@code createSandbox} onto a missing bridge fails and leaves nothing; a host veth name
 *       in use fails too;
 *   <li>deleting a bridge takes the veths attached to it along, as the kernel detaches them
 *       (they stay as links: here they stay in {@link #sandboxes});
 *   <li>{@link #failNext} makes the next call of a method fail.
 * </ul>
 * Thread-safe (synchronized).
 */
public final class RecordingNetworkDriver implements NetworkDriver {
  /** One created sandbox. */
  public record Sandbox(Path netns, String bridge, String hostVeth, String ip, int prefixLength, String gateway,
      String mac) {}

  private final Map<String, String> bridges = new LinkedHashMap<>();
  private final Map<String, Sandbox> sandboxes = new LinkedHashMap<>();
  private final List<String> calls = new ArrayList<>();
  private String failing;

  @Override
  public synchronized void ensureBridge(String name, String gateway, int prefixLength) {
    record("ensureBridge " + name + " " + gateway + "/" + prefixLength);
    bridges.putIfAbsent(name, gateway + "/" + prefixLength);
  }

  @Override
  public synchronized void deleteBridge(String name) {
    record("deleteBridge " + name);
    bridges.remove(name);
  }

  @Override
  public synchronized boolean linkExists(String name) {
    return bridges.containsKey(name) || sandboxes.containsKey(name);
  }

  @Override
  public synchronized void createSandbox(Path netns, String bridge, String hostVeth, String ip, int prefixLength,
      String gateway, String mac) {
    record("createSandbox " + hostVeth + " " + ip + " on " + bridge);
    if (!bridges.containsKey(bridge)) {
      throw BerthException.notFound("cannot attach " + hostVeth + " to bridge \"" + bridge + "\": No such device");
    }
    if (sandboxes.containsKey(hostVeth)) {
      throw BerthException.alreadyExists("cannot create veth \"" + hostVeth + "\": File exists");
    }
    try {
      Files.createFile(netns);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot pin a network namespace at " + netns, e);
    }
    sandboxes.put(hostVeth, new Sandbox(netns, bridge, hostVeth, ip, prefixLength, gateway, mac));
  }

  @Override
  public synchronized void deleteSandbox(Path netns, String hostVeth) {
    record("deleteSandbox " + hostVeth);
    sandboxes.remove(hostVeth);
    try {
      Files.deleteIfExists(netns);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The next call of {@code method} (e.g. "createSandbox") fails. */
  public synchronized void failNext(String method) {
    failing = method;
  }

  public synchronized Map<String, String> bridges() {
    return Map.copyOf(bridges);
  }

  public synchronized Map<String, Sandbox> sandboxes() {
    return Map.copyOf(sandboxes);
  }

  public synchronized List<String> calls() {
    return List.copyOf(calls);
  }

  private void record(String call) {
    calls.add(call);
    if (failing != null && call.startsWith(failing + " ")) {
      failing = null;
      throw BerthException.internal("injected failure of " + call, null);
    }
  }
}
