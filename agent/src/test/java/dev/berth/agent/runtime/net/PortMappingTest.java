package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PortMappingTest {

  /** Each spec and the mappings it means, as docker ps shows them, separated by spaces. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      80                        | 0.0.0.0:0->80/tcp
      80/udp                    | 0.0.0.0:0->80/udp
      53/UDP                    | 0.0.0.0:0->53/udp
      8080:80                   | 0.0.0.0:8080->80/tcp
      8080:80/tcp               | 0.0.0.0:8080->80/tcp
      5353:53/udp               | 0.0.0.0:5353->53/udp
      :80                       | 0.0.0.0:0->80/tcp
      127.0.0.1:8080:80         | 127.0.0.1:8080->80/tcp
      127.0.0.1::80             | 127.0.0.1:0->80/tcp
      127.0.0.1::80/udp         | 127.0.0.1:0->80/udp
      65535:1                   | 0.0.0.0:65535->1/tcp
      8000-8002:80-82           | 0.0.0.0:8000->80/tcp 0.0.0.0:8001->81/tcp 0.0.0.0:8002->82/tcp
      10.0.0.1:7000-7001:70-71/udp | 10.0.0.1:7000->70/udp 10.0.0.1:7001->71/udp
      80-81                     | 0.0.0.0:0->80/tcp 0.0.0.0:0->81/tcp
      9000-9000:90-90           | 0.0.0.0:9000->90/tcp
      """)
  void parses(String spec, String expected) {
    List<PortMapping> mappings = PortMapping.parse(spec);
    assertEquals(expected, String.join(" ", mappings.stream().map(PortMapping::toString).toList()));
    for (PortMapping m : mappings) {
      assertEquals(List.of(m), PortMapping.parse(m.spec()), "spec() reads back: " + m.spec());
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      80/sctp              | protocol "sctp" is not supported, only tcp and udp
      80/                  | no protocol after "/"
      8080:                | no container port
      127.0.0.1:8080:      | no container port
      http                 | container port "http" is not a number
      8080:http            | container port "http" is not a number
      x:80                 | host port "x" is not a number
      0                    | container port 0 is out of range: 1 to 65535
      8080:0               | container port 0 is out of range: 1 to 65535
      70000:80             | host port 70000 is out of range: 1 to 65535
      80:123456            | container port "123456" is not a number
      -1:80                | host port "" is not a number
      ::80                 | the host address before the first ":" is empty
      localhost:8080:80    | invalid IPv4 address "localhost": expected four dot-separated numbers
      1.2.3.256:8080:80    | invalid IPv4 address "1.2.3.256": "256" is not a number from 0 to 255
      [::1]:8080:80        | IPv6 host addresses are not supported
      ::1:8080:80          | too many ":" (the form is [ip:][hostPort]:containerPort[/proto]; IPv6 host addresses are not supported)
      8002-8000:80-82      | host port range 8002-8000 ends before it starts
      8000-8002:80-81      | host port range 8000-8002 has 3 ports but container port range 80-81 has 2; they must be the same length
      8000-8010:80         | host port range 8000-8010 has 11 ports but container port range 80 has 1; they must be the same length
      80-                  | container port "" is not a number
      """)
  void refuses(String spec, String reason) {
    BerthException e = assertThrows(BerthException.class, () -> PortMapping.parse(spec));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals("invalid port mapping \"" + spec + "\": " + reason, e.getMessage());
  }

  @Test
  void refusesEmpty() {
    assertEquals("invalid port mapping \"\": it is empty",
        assertThrows(BerthException.class, () -> PortMapping.parse(" ")).getMessage().replace("\" \"", "\"\""));
    assertEquals("invalid port mapping \"\": it is empty", assertThrows(BerthException.class, () -> PortMapping.parse(null))
        .getMessage());
  }

  @Test
  void specAndHostAddress() {
    PortMapping m = PortMapping.parse("127.0.0.1::80/udp").get(0);
    assertEquals("127.0.0.1", m.hostAddress());
    assertEquals("127.0.0.1:4000:80/udp", m.withHostPort(4000).spec());
    assertEquals("8080:80/tcp", PortMapping.tcp(8080, 80).spec());
    assertEquals("0.0.0.0", PortMapping.tcp(8080, 80).hostAddress());
  }
}
