import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.record.internal.ControlRecordType;
import org.apache.kafka.common.record.internal.EndTransactionMarker;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.MemoryRecordsBuilder;
import org.apache.kafka.common.record.internal.MutableRecordBatch;
import org.apache.kafka.common.record.internal.Record;
import org.apache.kafka.common.record.internal.RecordBatch;

/** records-build and records-read: record batches (magic 2) and legacy message sets (magic 0 and 1) by MemoryRecords. */
final class RecordsOracle {
  private RecordsOracle() {}

  /** Where the attributes sit in a batch: after baseOffset, length, partitionLeaderEpoch, magic and crc (v2). */
  private static final int V2_ATTRIBUTES_OFFSET = 21;

  /** Where the attributes sit in a legacy entry: after offset, size, crc and magic. */
  private static final int LEGACY_ATTRIBUTES_OFFSET = 17;

  static ObjectNode build(JsonNode request) {
    byte magic = (byte) OracleJson.intOr(request, "magic", RecordBatch.MAGIC_VALUE_V2);
    long baseOffset = OracleJson.longOr(request, "baseOffset", 0);
    long producerId = OracleJson.longOr(request, "producerId", RecordBatch.NO_PRODUCER_ID);
    short producerEpoch = (short) OracleJson.intOr(request, "producerEpoch", RecordBatch.NO_PRODUCER_EPOCH);
    int partitionLeaderEpoch = OracleJson.intOr(request, "partitionLeaderEpoch", RecordBatch.NO_PARTITION_LEADER_EPOCH);
    MemoryRecords records;
    JsonNode control = request.get("control");
    if (control != null && !control.isNull()) {
      records =
          MemoryRecords.withEndTransactionMarker(
              baseOffset,
              OracleJson.longOr(request, "timestamp", 0),
              partitionLeaderEpoch,
              producerId,
              producerEpoch,
              new EndTransactionMarker(controlType(control), OracleJson.intOr(control, "coordinatorEpoch", 0)));
    } else {
      TimestampType timestampType = timestampType(request, magic);
      MemoryRecordsBuilder builder =
          MemoryRecords.builder(
              ByteBuffer.allocate(1024),
              magic,
              compression(request),
              timestampType,
              baseOffset,
              OracleJson.longOr(request, "logAppendTime", RecordBatch.NO_TIMESTAMP),
              producerId,
              producerEpoch,
              OracleJson.intOr(request, "baseSequence", RecordBatch.NO_SEQUENCE),
              OracleJson.boolOr(request, "transactional", false),
              false,
              partitionLeaderEpoch);
      JsonNode list = request.get("records");
      if (list == null || !list.isArray()) throw new IllegalArgumentException("\"records\" must be an array");
      for (JsonNode record : list) {
        long timestamp = OracleJson.longOr(record, "timestamp", RecordBatch.NO_TIMESTAMP);
        byte[] key = OracleJson.bytesOrNull(record.get("key"), "key");
        byte[] value = OracleJson.bytesOrNull(record.get("value"), "value");
        Header[] headers = headers(record.get("headers"));
        if (record.has("offset")) builder.appendWithOffset(OracleJson.longOr(record, "offset", 0), timestamp, key, value, headers);
        else builder.append(timestamp, key, value, headers);
      }
      records = builder.build();
    }
    ByteBuffer buffer = records.buffer().duplicate();
    byte[] bytes = new byte[buffer.remaining()];
    buffer.get(bytes);
    return OracleJson.MAPPER.createObjectNode().put("bytes", OracleJson.base64(bytes));
  }

  private static Compression compression(JsonNode request) {
    String codec = OracleJson.textOr(request, "codec", "none");
    JsonNode level = request.get("level");
    boolean leveled = level != null && !level.isNull();
    return switch (codec) {
      case "none" -> Compression.NONE;
      case "gzip" -> leveled ? Compression.gzip().level(level.asInt()).build() : Compression.gzip().build();
      case "snappy" -> Compression.snappy().build();
      case "lz4" -> leveled ? Compression.lz4().level(level.asInt()).build() : Compression.lz4().build();
      case "zstd" -> leveled ? Compression.zstd().level(level.asInt()).build() : Compression.zstd().build();
      default -> throw new IllegalArgumentException("unknown codec \"" + codec + "\": use none, gzip, snappy, lz4 or zstd");
    };
  }

  private static TimestampType timestampType(JsonNode request, byte magic) {
    if (magic == RecordBatch.MAGIC_VALUE_V0) return TimestampType.NO_TIMESTAMP_TYPE;
    String name = OracleJson.textOr(request, "timestampType", "create");
    return switch (name) {
      case "create" -> TimestampType.CREATE_TIME;
      case "log-append" -> TimestampType.LOG_APPEND_TIME;
      default -> throw new IllegalArgumentException("unknown timestampType \"" + name + "\": use create or log-append");
    };
  }

  private static ControlRecordType controlType(JsonNode control) {
    String name = OracleJson.text(control, "type");
    return switch (name) {
      case "commit" -> ControlRecordType.COMMIT;
      case "abort" -> ControlRecordType.ABORT;
      default -> throw new IllegalArgumentException("unknown control type \"" + name + "\": use commit or abort");
    };
  }

  private static Header[] headers(JsonNode list) {
    if (list == null || list.isNull()) return Record.EMPTY_HEADERS;
    List<Header> headers = new ArrayList<>();
    for (JsonNode header : list) {
      headers.add(new RecordHeader(OracleJson.text(header, "key"), OracleJson.bytesOrNull(header.get("value"), "value")));
    }
    return headers.toArray(new Header[0]);
  }

  static ObjectNode read(JsonNode request) {
    byte[] bytes = OracleJson.bytesOrNull(request.get("bytes"), "bytes");
    if (bytes == null) throw new IllegalArgumentException("\"bytes\" is required");
    ByteBuffer whole = ByteBuffer.wrap(bytes);
    MemoryRecords records = MemoryRecords.readableRecords(whole.duplicate());
    ArrayNode batches = OracleJson.MAPPER.createArrayNode();
    int position = 0;
    for (MutableRecordBatch batch : records.batches()) {
      batches.add(describeBatch(batch, whole, position));
      position += batch.sizeInBytes();
    }
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    answer.set("batches", batches);
    answer.put("size", bytes.length);
    // Bytes after the last whole batch (a partial batch at the end of a fetch response is normal).
    answer.put("trailing", bytes.length - position);
    return answer;
  }

  private static ObjectNode describeBatch(MutableRecordBatch batch, ByteBuffer whole, int position) {
    ObjectNode node = OracleJson.MAPPER.createObjectNode();
    byte magic = batch.magic();
    node.put("position", position);
    node.put("sizeInBytes", batch.sizeInBytes());
    node.put("magic", magic);
    node.put("baseOffset", batch.baseOffset());
    node.put("lastOffset", batch.lastOffset());
    node.put("codec", batch.compressionType().name);
    node.put(
        "attributes",
        magic >= RecordBatch.MAGIC_VALUE_V2
            ? whole.getShort(position + V2_ATTRIBUTES_OFFSET)
            : whole.get(position + LEGACY_ATTRIBUTES_OFFSET));
    // A uint32 that fits a JSON number exactly; BigIntegerNode keeps it out of the int64-as-string rule.
    node.put("crc", BigInteger.valueOf(batch.checksum()));
    boolean valid = batch.isValid();
    node.put("valid", valid);
    if (!valid) {
      try {
        batch.ensureValid();
      } catch (RuntimeException invalid) {
        node.put("invalidReason", SluiceOracle.describe(invalid));
      }
    }
    node.put("timestampType", timestampTypeName(batch.timestampType()));
    node.put("maxTimestamp", batch.maxTimestamp());
    node.put("producerId", batch.producerId());
    node.put("producerEpoch", batch.producerEpoch());
    node.put("baseSequence", batch.baseSequence());
    node.put("lastSequence", batch.lastSequence());
    node.put("partitionLeaderEpoch", batch.partitionLeaderEpoch());
    node.put("transactional", batch.isTransactional());
    node.put("control", batch.isControlBatch());
    Integer count = batch.countOrNull();
    if (count == null) node.putNull("count");
    else node.put("count", count);
    if (batch.deleteHorizonMs().isPresent()) node.put("deleteHorizonMs", batch.deleteHorizonMs().getAsLong());
    ArrayNode list = node.putArray("records");
    try {
      for (Record record : batch) list.add(describeRecord(record, batch.isControlBatch()));
    } catch (RuntimeException broken) {
      node.put("recordsError", SluiceOracle.describe(broken));
    }
    return node;
  }

  private static ObjectNode describeRecord(Record record, boolean control) {
    ObjectNode node = OracleJson.MAPPER.createObjectNode();
    node.put("offset", record.offset());
    node.put("sequence", record.sequence());
    node.put("timestamp", record.timestamp());
    putBytes(node, "key", record.key());
    putBytes(node, "value", record.value());
    ArrayNode headers = node.putArray("headers");
    for (Header header : record.headers()) {
      ObjectNode entry = headers.addObject().put("key", header.key());
      if (header.value() == null) entry.putNull("value");
      else entry.put("value", OracleJson.base64(header.value()));
    }
    if (control && record.key() != null) {
      ControlRecordType type = ControlRecordType.parse(record.key());
      node.put("controlType", type.name().toLowerCase());
      if (type == ControlRecordType.COMMIT || type == ControlRecordType.ABORT) {
        node.put("coordinatorEpoch", EndTransactionMarker.deserialize(record).coordinatorEpoch());
      }
    }
    return node;
  }

  private static void putBytes(ObjectNode node, String name, ByteBuffer buffer) {
    if (buffer == null) {
      node.putNull(name);
      return;
    }
    byte[] bytes = new byte[buffer.remaining()];
    buffer.duplicate().get(bytes);
    node.put(name, OracleJson.base64(bytes));
  }

  private static String timestampTypeName(TimestampType type) {
    return switch (type) {
      case CREATE_TIME -> "create";
      case LOG_APPEND_TIME -> "log-append";
      default -> "none";
    };
  }
}
