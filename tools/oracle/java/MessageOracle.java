import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.protocol.ObjectSerializationCache;
import org.apache.kafka.common.protocol.Readable;
import org.apache.kafka.common.record.internal.MemoryRecords;

/** encode and decode through Kafka's generated classes: <Message>Data and <Message>DataJsonConverter. */
final class MessageOracle {
  private MessageOracle() {}

  private static final String PACKAGE = "org.apache.kafka.common.message.";
  private static final Pattern NAME = Pattern.compile("[A-Z][A-Za-z0-9]*");

  /** The reflective handles of one generated message class. */
  record Codec(Constructor<?> reader, Method fromJson, Method toJson) {
    Message read(ByteBufferAccessor accessor, short version) throws Exception {
      return (Message) reader.newInstance(accessor, version);
    }

    Message fromJson(JsonNode json, short version) throws Exception {
      return (Message) fromJson.invoke(null, json, version);
    }

    /** Kafka's converters print a records field as "" whatever it holds; the oracle puts the bytes in. */
    JsonNode toJson(Message message, short version, MessageSchemas.Struct schema) throws Exception {
      JsonNode json = (JsonNode) toJson.invoke(null, message, version);
      putRecords(json, message, schema, version);
      return json;
    }
  }

  private static final Map<String, Codec> CODECS = new ConcurrentHashMap<>();

  static void checkName(String message) {
    if (!NAME.matcher(message).matches()) throw new IllegalArgumentException("\"" + message + "\" is not a message name");
  }

  static Codec codec(String message) {
    checkName(message);
    Codec known = CODECS.get(message);
    if (known != null) return known;
    Codec codec;
    try {
      // API messages are <Name>Data; the others (LeaderChangeMessage, VotersRecord, ...) carry their name as it is.
      Class<?> data = classOr(PACKAGE + message + "Data", PACKAGE + message);
      Class<?> converter = Class.forName(data.getName() + "JsonConverter");
      codec =
          new Codec(
              data.getConstructor(Readable.class, short.class),
              converter.getMethod("read", JsonNode.class, short.class),
              converter.getMethod("write", data, short.class));
    } catch (ClassNotFoundException | NoSuchMethodException missing) {
      throw new IllegalArgumentException("Kafka has no message " + message + " (" + missing.getMessage() + ")");
    }
    CODECS.put(message, codec);
    return codec;
  }

  private static Class<?> classOr(String name, String fallback) throws ClassNotFoundException {
    try {
      return Class.forName(name);
    } catch (ClassNotFoundException missing) {
      Class<?> other = Class.forName(fallback);
      if (!Message.class.isAssignableFrom(other)) throw missing;
      return other;
    }
  }

  static byte[] serialize(Message message, short version) {
    ObjectSerializationCache cache = new ObjectSerializationCache();
    int size = message.size(cache, version);
    ByteBuffer buffer = ByteBuffer.allocate(size);
    message.write(new ByteBufferAccessor(buffer), cache, version);
    if (buffer.hasRemaining()) {
      throw new IllegalStateException("size() said " + size + " bytes but write() wrote " + buffer.position());
    }
    return buffer.array();
  }

  static ObjectNode encode(JsonNode request) throws Exception {
    String message = OracleJson.text(request, "message");
    short version = OracleJson.version(request);
    JsonNode json = request.get("json");
    if (json == null || !json.isObject()) throw new IllegalArgumentException("\"json\" must be an object");
    Codec codec = codec(message);
    stringsToLongs(json, MessageSchemas.load(message).root(), version);
    byte[] bytes = serialize(codec.fromJson(json, version), version);
    return OracleJson.MAPPER.createObjectNode().put("bytes", OracleJson.base64(bytes));
  }

  static ObjectNode decode(JsonNode request) throws Exception {
    String message = OracleJson.text(request, "message");
    short version = OracleJson.version(request);
    byte[] bytes = OracleJson.bytesOrNull(request.get("bytes"), "bytes");
    if (bytes == null) throw new IllegalArgumentException("\"bytes\" is required");
    Codec codec = codec(message);
    ByteBufferAccessor accessor = new ByteBufferAccessor(ByteBuffer.wrap(bytes));
    Message data = codec.read(accessor, version);
    int remaining = accessor.remaining();
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    answer.set("json", codec.toJson(data, version, MessageSchemas.load(message).root()));
    answer.put("consumed", bytes.length - remaining);
    answer.put("remaining", remaining);
    answer.put("consumedAll", remaining == 0);
    return answer;
  }

  /**
   * Kafka's converters read int64 fields only from JSON numbers; the oracle also takes decimal strings, found by
   * walking the JSON beside the message's schema.
   */
  static void stringsToLongs(JsonNode json, MessageSchemas.Struct struct, short version) {
    if (!(json instanceof ObjectNode object)) return;
    for (MessageSchemas.Field field : struct.fields()) {
      if (!field.versions().contains(version)) continue;
      JsonNode value = object.get(field.jsonName());
      if (value == null || value.isNull()) continue;
      if (field.array() && value instanceof ArrayNode array) {
        for (int index = 0; index < array.size(); index++) {
          JsonNode element = array.get(index);
          if (field.struct() != null) stringsToLongs(element, field.struct(), version);
          else if (field.type().equals("int64") && element.isTextual()) array.set(index, parseLong(element, field));
        }
      } else if (field.struct() != null) {
        stringsToLongs(value, field.struct(), version);
      } else if (field.type().equals("int64") && value.isTextual()) {
        object.set(field.jsonName(), parseLong(value, field));
      }
    }
  }

  /** Walks the JSON beside the Data object, down the fields whose structs hold a records field. */
  private static void putRecords(JsonNode json, Object data, MessageSchemas.Struct struct, short version) throws Exception {
    if (!(json instanceof ObjectNode object) || data == null || !struct.holdsRecords()) return;
    for (MessageSchemas.Field field : struct.fields()) {
      if (!field.versions().contains(version) || !object.has(field.jsonName())) continue;
      boolean records = field.type().equals("records");
      if (!records && (field.struct() == null || !field.struct().holdsRecords())) continue;
      Object value = data.getClass().getMethod(field.jsonName()).invoke(data);
      if (records) {
        if (value instanceof MemoryRecords memory) {
          ByteBuffer buffer = memory.buffer().duplicate();
          byte[] bytes = new byte[buffer.remaining()];
          buffer.get(bytes);
          object.put(field.jsonName(), OracleJson.base64(bytes));
        }
      } else if (field.array() && value instanceof Collection<?> elements) {
        JsonNode array = object.get(field.jsonName());
        int index = 0;
        for (Object element : elements) putRecords(array.get(index++), element, field.struct(), version);
      } else {
        putRecords(object.get(field.jsonName()), value, field.struct(), version);
      }
    }
  }

  private static LongNode parseLong(JsonNode text, MessageSchemas.Field field) {
    try {
      return LongNode.valueOf(Long.parseLong(text.asText()));
    } catch (NumberFormatException error) {
      throw new IllegalArgumentException("field " + field.jsonName() + ": \"" + text.asText() + "\" is not an int64");
    }
  }
}
