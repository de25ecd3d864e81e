import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;

/**
 * Sluice's oracle: answers JSON-line requests on stdin with JSON lines on stdout, one answer per request, in order,
 * using Kafka's own classes (generated message codecs, MemoryRecords, partition assignors). Exits when stdin reaches
 * end of file, so the JVM never outlives the process that started it. See tools/oracle/README.md for the protocol.
 */
public final class SluiceOracle {
  private SluiceOracle() {}

  public static void main(String[] arguments) throws IOException {
    PrintStream answers =
        new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false, StandardCharsets.UTF_8);
    // Anything Kafka's classes print must never be mistaken for an answer.
    System.setOut(System.err);
    BufferedReader requests = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8), 1 << 16);
    String line;
    while ((line = requests.readLine()) != null) {
      if (line.isBlank()) continue;
      answers.print(answer(line));
      answers.print('\n');
      // Pipelined requests are answered in one write; a lone request is answered at once.
      if (!requests.ready()) answers.flush();
    }
    answers.flush();
    System.exit(0);
  }

  static String answer(String line) {
    ObjectMapper mapper = OracleJson.MAPPER;
    JsonNode request = null;
    try {
      request = mapper.readTree(line);
      ObjectNode answer = handle(request);
      if (!"number".equals(OracleJson.textOr(request, "int64", "string"))) OracleJson.longsToStrings(answer);
      echoId(request, answer);
      return mapper.writeValueAsString(answer);
    } catch (Throwable thrown) {
      ObjectNode error = mapper.createObjectNode();
      error.put("error", describe(thrown));
      if (request != null) echoId(request, error);
      try {
        return mapper.writeValueAsString(error);
      } catch (IOException impossible) {
        return "{\"error\":\"the oracle could not write its error\"}";
      }
    }
  }

  private static void echoId(JsonNode request, ObjectNode answer) {
    if (request.isObject() && request.has("id")) answer.set("id", request.get("id"));
  }

  private static ObjectNode handle(JsonNode request) throws Exception {
    if (!request.isObject()) throw new IllegalArgumentException("a request must be a JSON object");
    String op = OracleJson.text(request, "op");
    return switch (op) {
      case "ping" -> OracleJson.MAPPER.createObjectNode().put("pong", true).put("java", System.getProperty("java.version"));
      case "encode" -> MessageOracle.encode(request);
      case "decode" -> MessageOracle.decode(request);
      case "random" -> RandomMessages.random(request);
      case "records-build" -> RecordsOracle.build(request);
      case "records-read" -> RecordsOracle.read(request);
      case "errors" -> KafkaErrors.table();
      case "assign" -> AssignorOracle.assign(request);
      case "assignor-user-data" -> AssignorOracle.userData(request);
      case "produce-transactions" -> TransactionsOracle.produce(request);
      default -> throw new IllegalArgumentException("unknown op \"" + op + "\"");
    };
  }

  /** "<class>: <message>", unwrapping reflection and following causes that add information. */
  static String describe(Throwable thrown) {
    while (thrown instanceof InvocationTargetException && thrown.getCause() != null) thrown = thrown.getCause();
    StringBuilder text = new StringBuilder(thrown.getClass().getName()).append(": ").append(thrown.getMessage());
    Throwable cause = thrown.getCause();
    for (int depth = 0; cause != null && depth < 3; depth++, cause = cause.getCause()) {
      text.append(" (caused by ").append(cause.getClass().getName()).append(": ").append(cause.getMessage()).append(')');
    }
    return text.toString();
  }
}
