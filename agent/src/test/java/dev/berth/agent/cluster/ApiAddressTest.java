package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The API address an agent registers for the others to forward to, from --tcp and --advertise. */
class ApiAddressTest {
  @ParameterizedTest(name = "--tcp {0} --advertise {1} -> \"{2}\"")
  @CsvSource(nullValues = "-", textBlock = """
      # --tcp,          --advertise,         registered
      -,                10.213.0.2:7946,     ''
      10.213.0.2:2377,  10.213.0.2:7946,     10.213.0.2:2377
      0.0.0.0:2377,     10.213.0.2:7946,     10.213.0.2:2377
      [::]:2377,        10.213.0.2:7946,     10.213.0.2:2377
      0.0.0.0:2377,     [fd00::2]:7946,      [fd00::2]:2377
      127.0.0.1:2377,   127.0.0.1:7946,      127.0.0.1:2377
      # loopback is no address for agents on other hosts
      127.0.0.1:2377,   10.213.0.2:7946,     ''
      [::1]:2377,       10.213.0.2:7946,     ''
      [fd00::3]:2377,   [fd00::3]:7946,      [fd00:0:0:0:0:0:0:3]:2377
      """)
  void registeredAddress(String tcp, String advertise, String registered) {
    InetSocketAddress bound = null;
    if (tcp != null) {
      Endpoint e = Endpoint.parse("--tcp", tcp);
      bound = new InetSocketAddress(e.host(), e.port());
    }
    assertEquals(registered, ClusterConfig.apiAddressOf(bound, Endpoint.parse("--advertise", advertise)));
  }

  @ParameterizedTest
  @CsvSource({"10.0.0.1:2377", "''"})
  void theConfigurationCarriesItToTheRegistration(String api) {
    ClusterConfig c = ClusterConfig.standalone("a", java.nio.file.Path.of("/tmp/unused"), new Endpoint("127.0.0.1", 7946));
    assertEquals("", c.apiAddress());
    assertEquals(api, c.withApiAddress(api).apiAddress());
    assertEquals(api, c.withApiAddress(api).withTls(new MessagingTls(java.nio.file.Path.of("k"), java.nio.file.Path.of("t"),
        "p")).apiAddress(), "kept with TLS");
  }
}
