import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * produce-transactions: Kafka's own transactional producer writes to a broker, so that Sluice's read_committed
 * handling is tested against markers and aborted transactions exactly as Kafka writes them.
 *
 * Request: { "op": "produce-transactions", "bootstrap": "host:port", "topic": "t", "partition": 0,
 *            "transactions": [ { "values": ["a", "b"], "commit": true }, ... ] }
 * Each transaction's values are sent as UTF-8 records to the partition, then committed or aborted, in order.
 */
final class TransactionsOracle {
  private TransactionsOracle() {}

  static ObjectNode produce(JsonNode request) throws Exception {
    String bootstrap = OracleJson.text(request, "bootstrap");
    String topic = OracleJson.text(request, "topic");
    int partition = OracleJson.intOr(request, "partition", 0);
    Properties config = new Properties();
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "sluice-oracle-" + java.util.UUID.randomUUID());
    config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "60000");
    int transactions = 0;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(config)) {
      producer.initTransactions();
      for (JsonNode transaction : request.get("transactions")) {
        producer.beginTransaction();
        for (JsonNode value : transaction.get("values")) {
          byte[] bytes = value.asText().getBytes(StandardCharsets.UTF_8);
          producer.send(new ProducerRecord<>(topic, partition, null, bytes)).get();
        }
        if (transaction.path("commit").asBoolean(true)) producer.commitTransaction();
        else producer.abortTransaction();
        transactions++;
      }
    }
    return OracleJson.MAPPER.createObjectNode().put("transactions", transactions);
  }
}
