package dev.berth.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.MessageOrBuilder;
import java.util.Base64;
import java.util.List;

/**
 * A protobuf message as a JSON tree, for the commands whose {@code --format json} prints an API
 * response as it is (`job plan`, `job status`, `job ls`): one mapping from the descriptors
 * rather than one by hand per message, so a field added to the proto shows up without a change
 * here.
 *
 * <p>Close to proto3's JSON mapping (protobuf-java-util is not on the CLI's class path): field
 * names in lowerCamelCase, enums by name, every field present, defaults too, so a script can
 * rely on a key. One difference: 64-bit integers are JSON numbers, not strings (a version or a
 * timestamp in milliseconds is far below 2^53).
 */
final class ProtoJson {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private ProtoJson() {
  }

  static ObjectNode of(MessageOrBuilder m) {
    ObjectNode o = NODES.objectNode();
    for (FieldDescriptor f : m.getDescriptorForType().getFields()) {
      Object v = m.getField(f);
      if (f.isMapField()) {
        ObjectNode map = o.putObject(f.getJsonName());
        for (Object entry : (List<?>) v) {
          MessageOrBuilder e = (MessageOrBuilder) entry;
          FieldDescriptor key = e.getDescriptorForType().findFieldByNumber(1);
          FieldDescriptor value = e.getDescriptorForType().findFieldByNumber(2);
          map.set(String.valueOf(e.getField(key)), value(value, e.getField(value)));
        }
      } else if (f.isRepeated()) {
        ArrayNode a = o.putArray(f.getJsonName());
        for (Object item : (List<?>) v) {
          a.add(value(f, item));
        }
      } else {
        o.set(f.getJsonName(), value(f, v));
      }
    }
    return o;
  }

  private static JsonNode value(FieldDescriptor f, Object v) {
    return switch (f.getJavaType()) {
      case INT -> NODES.numberNode((Integer) v);
      case LONG -> NODES.numberNode((Long) v);
      case FLOAT -> NODES.numberNode((Float) v);
      case DOUBLE -> NODES.numberNode((Double) v);
      case BOOLEAN -> NODES.booleanNode((Boolean) v);
      case STRING -> NODES.textNode((String) v);
      case BYTE_STRING -> NODES.textNode(Base64.getEncoder().encodeToString(((ByteString) v).toByteArray()));
      case ENUM -> NODES.textNode(((EnumValueDescriptor) v).getName());
      case MESSAGE -> of((MessageOrBuilder) v);
    };
  }
}
