package dev.berth.ctl;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.PortBinding;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`: a container's published ports, as docker lists them. */
@Command(name = "port", description = "List port mappings or a specific mapping for the container")
final class PortCommand extends BaseCommand {
  @Parameters(index = "0", paramLabel = "CONTAINER")
  String container;

  @Parameters(index = "1", arity = "0..1", paramLabel = "PRIVATE_PORT[/PROTO]")
  String port;

  PortCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() {
    String wanted = null;
    if (port != null) {
      int slash = port.indexOf('/');
      String number = slash < 0 ? port : port.substring(0, slash);
      String proto = slash < 0 || slash == port.length() - 1 ? "tcp" : port.substring(slash + 1);
      if (!isPort(number)) {
        throw new CliException("Error: invalid port (" + number + ")", 1);
      }
      wanted = Integer.parseInt(number) + "/" + proto;
    }
    Container c = cli.containers().inspect(LifecycleCommands.ref(container));
    List<String> lines = new ArrayList<>();
    for (PortBinding p : c.getNetwork().getPortsList()) {
      if (!Ports.published(p)) {
        continue;
      }
      if (wanted == null) {
        lines.add(Ports.containerPort(p) + " -> " + Ports.hostAddress(p));
      } else if (wanted.equals(Ports.containerPort(p))) {
        lines.add(Ports.hostAddress(p));
      }
    }
    if (wanted != null && lines.isEmpty()) {
      throw new CliException("Error: No public port '" + wanted + "' published for " + container, 1);
    }
    lines.sort(Ports::compareNatural);
    lines.forEach(cli.out::println);
    return 0;
  }

  private static boolean isPort(String s) {
    if (s.isEmpty() || s.length() > 5) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) < '0' || s.charAt(i) > '9') {
        return false;
      }
    }
    return Integer.parseInt(s) <= 65535;
  }
}
