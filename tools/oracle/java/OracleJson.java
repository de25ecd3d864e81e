import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import java.util.Base64;
import java.util.Map;

/** Reading request fields, and the one rule for int64 values on the way out. */
final class OracleJson {
  private OracleJson() {}

  static final ObjectMapper MAPPER = new ObjectMapper();

  /** Kafka's message schemas carry comments. */
  static final ObjectMapper SCHEMA_MAPPER =
      JsonMapper.builder().enable(JsonReadFeature.ALLOW_JAVA_COMMENTS).enable(JsonReadFeature.ALLOW_TRAILING_COMMA).build();

  static String text(JsonNode request, String name) {
    JsonNode node = request.get(name);
    if (node == null || !node.isTextual()) throw new IllegalArgumentException("\"" + name + "\" must be a string");
    return node.asText();
  }

  static String textOr(JsonNode request, String name, String fallback) {
    JsonNode node = request.get(name);
    return node == null || node.isNull() ? fallback : text(request, name);
  }

  /** int64 values arrive as JSON numbers (of any size Jackson reads exactly) or as decimal strings. */
  static long longValue(JsonNode node, String name) {
    if (node.isTextual()) return Long.parseLong(node.asText());
    if (node.isIntegralNumber() && node.canConvertToLong()) return node.asLong();
    throw new IllegalArgumentException("\"" + name + "\" must be an int64 (a JSON integer or a decimal string)");
  }

  static long longOr(JsonNode request, String name, long fallback) {
    JsonNode node = request.get(name);
    return node == null || node.isNull() ? fallback : longValue(node, name);
  }

  static int intOr(JsonNode request, String name, int fallback) {
    long value = longOr(request, name, fallback);
    if (value != (int) value) throw new IllegalArgumentException("\"" + name + "\" does not fit in an int32");
    return (int) value;
  }

  static short version(JsonNode request) {
    long value = longOr(request, "version", Long.MIN_VALUE);
    if (value == Long.MIN_VALUE) throw new IllegalArgumentException("\"version\" is required");
    if (value < 0 || value > Short.MAX_VALUE) throw new IllegalArgumentException("\"version\" is out of range");
    return (short) value;
  }

  static boolean boolOr(JsonNode request, String name, boolean fallback) {
    JsonNode node = request.get(name);
    if (node == null || node.isNull()) return fallback;
    if (!node.isBoolean()) throw new IllegalArgumentException("\"" + name + "\" must be a boolean");
    return node.asBoolean();
  }

  /** Standard base64 with padding; null stays null. */
  static byte[] bytesOrNull(JsonNode node, String name) {
    if (node == null || node.isNull()) return null;
    if (!node.isTextual()) throw new IllegalArgumentException("\"" + name + "\" must be base64 text or null");
    return Base64.getDecoder().decode(node.asText());
  }

  static String base64(byte[] bytes) {
    return Base64.getEncoder().encodeToString(bytes);
  }

  /**
   * Every LongNode becomes its decimal string. Kafka's JSON converters make LongNodes for int64 fields (and uint32,
   * which no 4.4 message uses); the oracle's own answers use LongNode for every int64 too.
   */
  static void longsToStrings(JsonNode node) {
    if (node instanceof ObjectNode object) {
      for (Map.Entry<String, JsonNode> field : object.properties()) {
        if (field.getValue() instanceof LongNode number) field.setValue(TextNode.valueOf(Long.toString(number.longValue())));
        else longsToStrings(field.getValue());
      }
    } else if (node instanceof ArrayNode array) {
      for (int index = 0; index < array.size(); index++) {
        if (array.get(index) instanceof LongNode number) array.set(index, TextNode.valueOf(Long.toString(number.longValue())));
        else longsToStrings(array.get(index));
      }
    }
  }
}
