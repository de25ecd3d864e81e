import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Kafka's message declarations (common/message/<Message>.json inside kafka-clients), read from the jar on the
 * classpath, so the oracle knows every field's type and versions without a copy of its own.
 */
final class MessageSchemas {
  private MessageSchemas() {}

  static final Set<String> PRIMITIVES =
      Set.of("bool", "int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "string", "bytes", "uuid", "records");

  /** A version range as the schemas write it: "3+", "0-12", "7" or "none". */
  record Versions(int lowest, int highest) {
    static final Versions NONE = new Versions(0, -1);

    static Versions parse(JsonNode node) {
      if (node == null || node.isNull()) return NONE;
      String text = node.asText().trim();
      if (text.equals("none")) return NONE;
      if (text.endsWith("+")) return new Versions(Integer.parseInt(text.substring(0, text.length() - 1)), Short.MAX_VALUE);
      int dash = text.indexOf('-');
      if (dash > 0) return new Versions(Integer.parseInt(text.substring(0, dash)), Integer.parseInt(text.substring(dash + 1)));
      int only = Integer.parseInt(text);
      return new Versions(only, only);
    }

    boolean contains(int version) {
      return version >= lowest && version <= highest;
    }
  }

  /**
   * One field. {@code type} is the element type for arrays ({@code array} tells), and {@code struct} is set when that
   * type is a struct. {@code jsonName} is the name Kafka's JSON converters use: the schema name with a lower-case start.
   */
  record Field(
      String name,
      String jsonName,
      boolean array,
      String type,
      Struct struct,
      Versions versions,
      Versions nullableVersions,
      Versions taggedVersions) {}

  record Struct(String name, List<Field> fields) {
    /** Whether a records field sits in this struct or below it. */
    boolean holdsRecords() {
      for (Field field : fields) {
        if (field.type().equals("records") || (field.struct() != null && field.struct().holdsRecords())) return true;
      }
      return false;
    }
  }

  record Schema(String name, String kind, Versions validVersions, Struct root) {}

  private static final Map<String, Schema> CACHE = new ConcurrentHashMap<>();

  static Schema load(String message) {
    MessageOracle.checkName(message);
    return CACHE.computeIfAbsent(message, MessageSchemas::read);
  }

  private static Schema read(String message) {
    String resource = "common/message/" + message + ".json";
    JsonNode document;
    try (InputStream input = MessageSchemas.class.getClassLoader().getResourceAsStream(resource)) {
      if (input == null) throw new IllegalArgumentException("no schema " + resource + " in kafka-clients");
      document = OracleJson.SCHEMA_MAPPER.readTree(input);
    } catch (IOException error) {
      throw new IllegalStateException("cannot read " + resource, error);
    }
    // Struct types named without inline fields are declared in commonStructs or inline elsewhere in the file.
    Map<String, JsonNode> declared = new HashMap<>();
    collectDeclarations(document.get("fields"), declared);
    JsonNode common = document.get("commonStructs");
    if (common != null) {
      for (JsonNode struct : common) {
        declared.put(struct.get("name").asText(), struct.get("fields"));
        collectDeclarations(struct.get("fields"), declared);
      }
    }
    Struct root = struct(message, document.get("fields"), declared);
    return new Schema(message, document.path("type").asText(), Versions.parse(document.get("validVersions")), root);
  }

  private static void collectDeclarations(JsonNode fields, Map<String, JsonNode> declared) {
    if (fields == null) return;
    for (JsonNode field : fields) {
      JsonNode inner = field.get("fields");
      if (inner == null) continue;
      declared.putIfAbsent(elementType(field.get("type").asText()), inner);
      collectDeclarations(inner, declared);
    }
  }

  private static String elementType(String type) {
    return type.startsWith("[]") ? type.substring(2) : type;
  }

  private static Struct struct(String name, JsonNode fieldNodes, Map<String, JsonNode> declared) {
    List<Field> fields = new ArrayList<>();
    if (fieldNodes != null) {
      for (JsonNode node : fieldNodes) {
        String name2 = node.get("name").asText();
        String declaredType = node.get("type").asText().trim();
        boolean array = declaredType.startsWith("[]");
        String type = elementType(declaredType);
        Struct inner = null;
        if (!PRIMITIVES.contains(type)) {
          JsonNode innerFields = node.has("fields") ? node.get("fields") : declared.get(type);
          if (innerFields == null) throw new IllegalStateException("struct type " + type + " is not declared");
          inner = struct(type, innerFields, declared);
        }
        Versions tagged = node.has("tag") ? Versions.parse(node.get("taggedVersions")) : Versions.NONE;
        fields.add(
            new Field(
                name2,
                Character.toLowerCase(name2.charAt(0)) + name2.substring(1),
                array,
                type,
                inner,
                Versions.parse(node.get("versions")),
                Versions.parse(node.get("nullableVersions")),
                tagged));
      }
    }
    return new Struct(name, fields);
  }
}
