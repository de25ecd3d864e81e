import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.InvalidMetadataException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

/** The `errors` op: Kafka's error-code table as the client library defines it (code, name, retriable, ...). */
final class KafkaErrors {
  private KafkaErrors() {}

  static ObjectNode table() {
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    ArrayNode entries = answer.putArray("errors");
    for (Errors error : Errors.values()) {
      ApiException exception = error.exception();
      ObjectNode entry = entries.addObject();
      entry.put("code", error.code());
      entry.put("name", error.name());
      entry.put("retriable", exception instanceof RetriableException);
      entry.put("invalidMetadata", exception instanceof InvalidMetadataException);
      entry.put("message", exception == null ? "" : String.valueOf(exception.getMessage()));
      entry.put("exception", exception == null ? null : exception.getClass().getSimpleName());
    }
    return answer;
  }
}
