package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.PortBinding;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** -p as docker reads it, and published ports as docker's ps prints them. */
class PortsTest {
  private static PortBinding bind(String protocol, String ip, int host, int container) {
    return PortBinding.newBuilder().setProtocol(protocol).setHostIp(ip).setHostPort(host).setContainerPort(container).build();
  }

  private static PortBinding tcp(String ip, int host, int container) {
    return bind("tcp", ip, host, container);
  }

  static Stream<Arguments> specs() {
    return Stream.of(
        Arguments.of("80", List.of(tcp("", 0, 80))),
        Arguments.of("80/udp", List.of(bind("udp", "", 0, 80))),
        Arguments.of("80/UDP", List.of(bind("udp", "", 0, 80))),
        Arguments.of("80/", List.of(tcp("", 0, 80))),
        Arguments.of("8080:80", List.of(tcp("", 8080, 80))),
        Arguments.of("0:80", List.of(tcp("", 0, 80))),
        Arguments.of(":80", List.of(tcp("", 0, 80))),
        Arguments.of("127.0.0.1:8080:80/tcp", List.of(tcp("127.0.0.1", 8080, 80))),
        Arguments.of("127.0.0.1::80", List.of(tcp("127.0.0.1", 0, 80))),
        Arguments.of("0.0.0.0:53:53/udp", List.of(bind("udp", "0.0.0.0", 53, 53))),
        Arguments.of("[::1]:8080:80", List.of(tcp("::1", 8080, 80))),
        Arguments.of("::1:8080:80", List.of(tcp("::1", 8080, 80))),
        Arguments.of("[fe80::1]::80", List.of(tcp("fe80::1", 0, 80))),
        Arguments.of("8000-8001:80-81", List.of(tcp("", 8000, 80), tcp("", 8001, 81))),
        Arguments.of("10.0.0.1:8000-8002:9000-9002/udp",
            List.of(bind("udp", "10.0.0.1", 8000, 9000), bind("udp", "10.0.0.1", 8001, 9001), bind("udp", "10.0.0.1", 8002, 9002))),
        Arguments.of("80-82", List.of(tcp("", 0, 80), tcp("", 0, 81), tcp("", 0, 82))),
        Arguments.of("0-1:80-81", List.of(tcp("", 0, 80), tcp("", 1, 81))),
        Arguments.of("65535:65535", List.of(tcp("", 65535, 65535))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void parsesLikeDocker(String spec, List<PortBinding> expected) {
    assertEquals(expected, Ports.parse(spec));
  }

  static Stream<Arguments> badSpecs() {
    return Stream.of(
        Arguments.of("", "the container port is empty"),
        Arguments.of("8080:", "the container port is empty"),
        Arguments.of("http", "invalid container port \"http\""),
        Arguments.of("80:http", "invalid container port \"http\""),
        Arguments.of("web:80", "invalid host port \"web\""),
        Arguments.of("-1:80", "invalid host port \"-1\""),
        Arguments.of("80-:80", "invalid host port \"80-\""),
        Arguments.of("0", "container port 0 is out of range (1-65535)"),
        Arguments.of("70000", "container port 70000 is out of range (0-65535)"),
        Arguments.of("8080:123456", "invalid container port \"123456\""),
        Arguments.of("80/sctp", "protocol sctp is not supported"),
        Arguments.of("80/icmp", "unknown protocol \"icmp\""),
        Arguments.of("81-80", "the container port range 81-80 ends before it starts"),
        Arguments.of("8000-8002:80-81", "the host range 8000-8002 and the container range 80-81 differ in length"),
        Arguments.of("8000-8001:80", "a host port range for a single container port is not supported"),
        Arguments.of("8080:80-81", "one host port for the container range 80-81"),
        Arguments.of("1.2.3:80:80", "\"1.2.3\" is not an IP address"),
        Arguments.of("300.1.1.1:80:80", "\"300.1.1.1\" is not an IP address"),
        Arguments.of("localhost:80:80", "\"localhost\" is not an IP address"),
        Arguments.of("[::zz]:80:80", "\"[::zz]\" is not an IP address"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("badSpecs")
  void badSpecsNameTheSpecAndTheReason(String spec, String reason) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ports.parse(spec));
    assertTrue(e.getMessage().startsWith("invalid -p/--publish \"" + spec + "\": " + reason), e.getMessage());
    assertTrue(e.getMessage().contains("; accepted: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]"), e.getMessage());
  }

  @Test
  void severalSpecsKeepTheirOrder() {
    assertEquals(List.of(tcp("", 8080, 80), bind("udp", "", 0, 53), tcp("", 0, 443)),
        Ports.parse(List.of("8080:80", "53/udp", "443")));
  }

  static Stream<Arguments> displays() {
    return Stream.of(
        Arguments.of(List.of(), ""),
        Arguments.of(List.of(tcp("", 8080, 80)), "0.0.0.0:8080->80/tcp"),
        Arguments.of(List.of(bind("", "", 8080, 80)), "0.0.0.0:8080->80/tcp"),
        Arguments.of(List.of(tcp("", 0, 80)), "80/tcp"),
        Arguments.of(List.of(tcp("", 0, 81), tcp("", 0, 80), bind("udp", "", 0, 80)), "80-81/tcp, 80/udp"),
        Arguments.of(List.of(tcp("", 8080, 80), bind("udp", "127.0.0.1", 9000, 9000)), "127.0.0.1:9000->9000/udp, 0.0.0.0:8080->80/tcp"),
        Arguments.of(List.of(tcp("", 8001, 8001), tcp("", 8000, 8000)), "0.0.0.0:8000-8001->8000-8001/tcp"),
        Arguments.of(List.of(tcp("", 80, 80), tcp("", 82, 82)), "0.0.0.0:80->80/tcp, 0.0.0.0:82->82/tcp"),
        Arguments.of(List.of(tcp("", 8443, 443), tcp("", 8080, 80)), "0.0.0.0:8080->80/tcp, 0.0.0.0:8443->443/tcp"),
        Arguments.of(List.of(tcp("::1", 8080, 80), tcp("::", 443, 443)), "[::]:443->443/tcp, [::1]:8080->80/tcp"),
        Arguments.of(List.of(tcp("127.0.0.1", 8080, 80), tcp("", 8080, 80)), "0.0.0.0:8080->80/tcp, 127.0.0.1:8080->80/tcp"));
  }

  @ParameterizedTest(name = "[{index}] {1}")
  @MethodSource("displays")
  void displaysLikeDockerPs(List<PortBinding> ports, String expected) {
    assertEquals(expected, Ports.display(ports));
  }

  @Test
  void naturalOrderComparesNumbersAsNumbers() {
    List<String> names = new ArrayList<>(List.of("net10", "none", "net2", "bridge", "net02", "host", "443/tcp -> x", "80/tcp -> x"));
    names.sort(Ports::compareNatural);
    assertEquals(List.of("80/tcp -> x", "443/tcp -> x", "bridge", "host", "net2", "net02", "net10", "none"), names);
  }
}
