package dev.berth.agent.cluster;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.BerthException;
import java.io.IOException;

/**
 * The byte format of Berth's records in Atomix: JSON, so that a value written by one version of
 * the agent stays readable by the next (unknown fields are ignored) and can be read by a person.
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
