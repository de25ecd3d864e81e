import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.protocol.Message;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;

/**
 * random: a message of any name and version filled with values chosen from a seed, by walking Kafka's own schema
 * of that message. The JSON is built first, then goes through Kafka's converter and writer, so the answer's bytes
 * are Java's and its JSON is what Java's converter prints for them.
 */
final class RandomMessages {
  private RandomMessages() {}

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final String[] WORDS = {"", "a", "topic-1", "sluice", "é", "日本", "\uD83D\uDE80", "__consumer_offsets"};
  private static final int MAX_DEPTH = 16;

  static ObjectNode random(JsonNode request) throws Exception {
    String message = OracleJson.text(request, "message");
    short version = OracleJson.version(request);
    long seed = OracleJson.longOr(request, "seed", 0);
    int maxArray = OracleJson.intOr(request, "maxArrayLength", 3);
    MessageSchemas.Schema schema = MessageSchemas.load(message);
    if (!schema.validVersions().contains(version) && !schema.kind().equals("header")) {
      throw new IllegalArgumentException(message + " has no version " + version);
    }
    Generator generator = new Generator(new SplittableRandom(seed), version, maxArray);
    ObjectNode json = generator.struct(schema.root(), 0);
    MessageOracle.Codec codec = MessageOracle.codec(message);
    Message data = codec.fromJson(json, version);
    byte[] bytes = MessageOracle.serialize(data, version);
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    answer.set("json", codec.toJson(data, version, schema.root()));
    answer.put("bytes", OracleJson.base64(bytes));
    return answer;
  }

  private record Generator(SplittableRandom random, short version, int maxArray) {
    ObjectNode struct(MessageSchemas.Struct struct, int depth) {
      ObjectNode object = NODES.objectNode();
      for (MessageSchemas.Field field : struct.fields()) {
        if (!field.versions().contains(version)) continue;
        // An absent tagged field takes its default and is not written, which is worth testing too.
        if (field.taggedVersions().contains(version) && random.nextBoolean()) continue;
        if (field.nullableVersions().contains(version) && random.nextInt(5) == 0) {
          object.putNull(field.jsonName());
          continue;
        }
        object.set(field.jsonName(), field.array() ? array(field, depth) : value(field, depth));
      }
      return object;
    }

    private ArrayNode array(MessageSchemas.Field field, int depth) {
      ArrayNode array = NODES.arrayNode();
      int length = random.nextInt(maxArray + 1);
      for (int index = 0; index < length; index++) array.add(value(field, depth + 1));
      return array;
    }

    private JsonNode value(MessageSchemas.Field field, int depth) {
      if (field.struct() != null) {
        if (depth > MAX_DEPTH) throw new IllegalStateException("schema nests deeper than " + MAX_DEPTH);
        return struct(field.struct(), depth + 1);
      }
      return switch (field.type()) {
        case "bool" -> NODES.booleanNode(random.nextBoolean());
        case "int8" -> NODES.numberNode((byte) integer(Byte.MIN_VALUE, Byte.MAX_VALUE));
        case "int16" -> NODES.numberNode((short) integer(Short.MIN_VALUE, Short.MAX_VALUE));
        case "uint16" -> NODES.numberNode((int) integer(0, 0xffff));
        case "int32" -> NODES.numberNode((int) integer(Integer.MIN_VALUE, Integer.MAX_VALUE));
        case "uint32" -> NODES.numberNode(integer(0, 0xffffffffL));
        case "int64" -> NODES.numberNode(integer(Long.MIN_VALUE, Long.MAX_VALUE));
        case "float64" -> NODES.numberNode(random.nextInt(4) == 0 ? 0.5 * random.nextInt(-8, 8) : random.nextDouble() * 1e6);
        case "string" -> NODES.textNode(word());
        case "bytes" -> NODES.binaryNode(bytes(random.nextInt(9)));
        case "uuid" -> NODES.textNode(new Uuid(random.nextLong(), random.nextLong()).toString());
        case "records" -> NODES.binaryNode(records());
        default -> throw new IllegalStateException("unknown field type " + field.type());
      };
    }

    /** Mostly small values, sometimes the edges of the type, where codecs break. */
    private long integer(long lowest, long highest) {
      return switch (random.nextInt(6)) {
        case 0 -> lowest;
        case 1 -> highest;
        case 2 -> Math.max(lowest, Math.min(highest, -1));
        case 3 -> Math.max(lowest, Math.min(highest, random.nextLong()));
        default -> Math.max(lowest, Math.min(highest, random.nextInt(1000)));
      };
    }

    private String word() {
      String word = WORDS[random.nextInt(WORDS.length)];
      return random.nextBoolean() ? word : word + random.nextInt(100);
    }

    private byte[] bytes(int length) {
      byte[] bytes = new byte[length];
      for (int index = 0; index < length; index++) bytes[index] = (byte) random.nextInt(256);
      return bytes;
    }

    /** A real uncompressed batch of one to three records, so the records can be decoded too. */
    private byte[] records() {
      int count = 1 + random.nextInt(3);
      SimpleRecord[] records = new SimpleRecord[count];
      for (int index = 0; index < count; index++) {
        records[index] = new SimpleRecord(1_700_000_000_000L + random.nextInt(1000), bytes(random.nextInt(4)), bytes(random.nextInt(8)));
      }
      ByteBuffer buffer = MemoryRecords.withRecords(random.nextLong(0, 1L << 40), Compression.NONE, records).buffer();
      byte[] bytes = new byte[buffer.remaining()];
      buffer.duplicate().get(bytes);
      return bytes;
    }
  }
}
