package dev.berth.agent.tls;

import dev.berth.agent.BerthException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import picocli.CommandLine.Option;

/**
 * berthd's TLS flags, a picocli mixin of {@code AgentMain}. The three files come together or not
 * at all; with them the API on TCP ({@code --tcp}) and the cluster's messaging (Raft) are mutual
 * TLS, on any address. Without them, plaintext TCP is only what {@code --tls-plaintext} asks for:
 * the API on a loopback address (it is root-equivalent, so never beyond), and the cluster's
 * messaging beyond loopback. The embedded one-server default on loopback needs neither.
 */
public final class TlsOptions {
  @Option(names = "--tls-ca", paramLabel = "FILE", description = "PEM file of the cluster CA ('berth cert ca'): the only "
      + "CA whose certificates this agent accepts from other agents and from clients on TCP.")
  Path ca;

  @Option(names = "--tls-cert", paramLabel = "FILE", description = "PEM file of this node's certificate ('berth cert node "
      + "NAME'); it must name this node (--node) in its common name or a DNS name, else the agent refuses to start.")
  Path cert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM file of this node's key (PKCS#8).")
  Path key;

  @Option(names = "--tls-plaintext", description = "Explicitly allow TCP without TLS: the API on a loopback --tcp address, "
      + "and the cluster's messaging (Raft) beyond loopback, e.g. on a private test network.")
  boolean plaintext;

  public TlsOptions() {
  }

  /** For tests and tools: the same as the three flags. */
  public TlsOptions(Path ca, Path cert, Path key, boolean plaintext) {
    this.ca = ca;
    this.cert = cert;
    this.key = key;
    this.plaintext = plaintext;
  }

  /** The --tls-ca file, if given. */
  public Path ca() {
    return ca;
  }

  /** The --tls-cert file, if given. */
  public Path cert() {
    return cert;
  }

  /** The --tls-key file, if given. */
  public Path key() {
    return key;
  }

  /** Whether plaintext TCP was asked for explicitly. */
  public boolean plaintext() {
    return plaintext;
  }

  /**
   * The material the flags name, checked, for the node {@code node}; empty when none is given.
   * Throws {@code INVALID_ARGUMENT} when only some of the three are given, when they contradict
   * {@code --tls-plaintext}, as {@link TlsMaterial#load} does, or when the certificate does not
   * name {@code node} ({@link TlsMaterial#requireNode}).
   */
  public Optional<TlsMaterial> load(String node, Instant now) {
    if (ca == null && cert == null && key == null) {
      return Optional.empty();
    }
    if (ca == null || cert == null || key == null) {
      java.util.List<String> missing = new java.util.ArrayList<>();
      if (ca == null) {
        missing.add("--tls-ca");
      }
      if (cert == null) {
        missing.add("--tls-cert");
      }
      if (key == null) {
        missing.add("--tls-key");
      }
      throw BerthException.invalid("TLS needs all of --tls-ca, --tls-cert and --tls-key; missing " + String.join(", ", missing));
    }
    if (plaintext) {
      throw BerthException.invalid("--tls-plaintext contradicts --tls-ca/--tls-cert/--tls-key: choose one");
    }
    return Optional.of(TlsMaterial.load(ca, cert, key, now).requireNode(node));
  }
}
