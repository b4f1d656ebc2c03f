package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.Linux;
import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;

/**
 * The real driver against the contract, as root. Its "host" is a network namespace pinned for
 * the test: the bridges and veths it makes live there and go with it.
 */
@Tag("linux")
class LinuxNetworkDriverTest extends NetworkDriverContract {
  private NetNamespaces host;
  private NetNamespaces sandboxes;
  private Path hostPin;
  private LinuxNetworkDriver real;

  @Override
  NetworkDriver create() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for network namespaces");
    Syscalls syscalls = new LinuxSyscalls();
    host = new NetNamespaces(syscalls);
    sandboxes = new NetNamespaces(syscalls);
    hostPin = Files.createTempFile(Path.of("/tmp"), "bt-host", ".netns");
    Files.delete(hostPin);
    host.create(hostPin);
    real = new LinuxNetworkDriver(host.netlink(hostPin), sandboxes,
        bridge -> host.call(hostPin, () -> {
          FirewallSysctls.apply(List.of(bridge));
          return null;
        }));
    return real;
  }

  @Override
  void destroy() {
    if (real != null) {
      real.close();
    }
    if (host != null) {
      host.delete(hostPin);
      host.close();
    }
  }
}
