package dev.berth.agent.cluster;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.BerthException;
import java.io.IOException;

/**
 * JSON for the agents' own heartbeat messages (never stored), and for reading the values agents
 * stored before {@link ClusterCodec}'s protobuf format.
 */
final class ClusterJson {
  private static final ObjectMapper JSON = new ObjectMapper()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private ClusterJson() {}

  static byte[] write(Object value) {
    try {
      return JSON.writeValueAsBytes(value);
    } catch (IOException e) {
      throw BerthException.internal("cannot encode " + value.getClass().getSimpleName(), e);
    }
  }

  static <T> T read(byte[] bytes, Class<T> type) {
    try {
      return JSON.readValue(bytes, type);
    } catch (IOException e) {
      throw BerthException.internal("cannot decode a stored " + type.getSimpleName() + ": " + e.getMessage(), e);
    }
  }
}
