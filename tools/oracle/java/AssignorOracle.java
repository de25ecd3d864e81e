import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Assignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupAssignment;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.GroupSubscription;
import org.apache.kafka.clients.consumer.ConsumerPartitionAssignor.Subscription;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.consumer.RoundRobinAssignor;
import org.apache.kafka.clients.consumer.StickyAssignor;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * assign and assignor-user-data: Kafka's client-side partition assignors (range, roundrobin, sticky,
 * cooperative-sticky) run on a cluster and a group described in the request.
 */
final class AssignorOracle {
  private AssignorOracle() {}

  /** The broker that holds partitions listed without racks. */
  private static final int RACKLESS_NODE_ID = 1000;

  private static final int FIRST_PORT = 9092;

  static ObjectNode assign(JsonNode request) {
    ConsumerPartitionAssignor assignor = assignor(request);
    Cluster cluster = cluster(array(request, "topics"));
    Map<String, Subscription> subscriptions = new LinkedHashMap<>();
    for (JsonNode member : array(request, "members")) {
      String memberId = OracleJson.text(member, "memberId");
      if (subscriptions.containsKey(memberId)) throw new IllegalArgumentException("member \"" + memberId + "\" is listed twice");
      subscriptions.put(memberId, subscription(member));
    }
    GroupAssignment result = assignor.assign(cluster, new GroupSubscription(subscriptions));
    Map<String, Assignment> assignments = result.groupAssignment();
    ObjectNode byMember = OracleJson.MAPPER.createObjectNode();
    // The request's member order first, then anything else Java answered with (there should be nothing else).
    Set<String> memberIds = new LinkedHashSet<>(subscriptions.keySet());
    memberIds.addAll(assignments.keySet());
    for (String memberId : memberIds) {
      Assignment assignment = assignments.get(memberId);
      if (assignment == null) continue;
      ObjectNode entry = byMember.putObject(memberId);
      ArrayNode partitions = entry.putArray("partitions");
      for (TopicPartition partition : assignment.partitions()) {
        partitions.addObject().put("topic", partition.topic()).put("partition", partition.partition());
      }
      putBytes(entry, "userData", assignment.userData());
    }
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    answer.set("assignments", byMember);
    return answer;
  }

  // ConsumerGroupMetadata's full constructor is deprecated for removal, but it is how a consumer hands an assignor its
  // generation, and the only way to do it from outside the consumer.
  @SuppressWarnings("removal")
  static ObjectNode userData(JsonNode request) {
    ConsumerPartitionAssignor assignor = assignor(request);
    List<TopicPartition> partitions = topicPartitions(array(request, "partitions"), "partitions");
    JsonNode generation = request.get("generationId");
    if (generation == null || generation.isNull()) throw new IllegalArgumentException("\"generationId\" is required");
    int generationId = OracleJson.intOr(request, "generationId", -1);
    ConsumerGroupMetadata metadata =
        new ConsumerGroupMetadata(
            OracleJson.textOr(request, "groupId", "group"), generationId, OracleJson.textOr(request, "memberId", "member"), Optional.empty());
    assignor.onAssignment(new Assignment(partitions), metadata);
    Set<String> topics = new HashSet<>(strings(array(request, "topics"), "topics"));
    ObjectNode answer = OracleJson.MAPPER.createObjectNode();
    putBytes(answer, "userData", assignor.subscriptionUserData(topics));
    return answer;
  }

  private static ConsumerPartitionAssignor assignor(JsonNode request) {
    String name = OracleJson.text(request, "assignor");
    return switch (name) {
      case "range" -> new RangeAssignor();
      case "roundrobin" -> new RoundRobinAssignor();
      case "sticky" -> new StickyAssignor();
      case "cooperative-sticky" -> new CooperativeStickyAssignor();
      default -> throw new IllegalArgumentException("unknown assignor \"" + name + "\" (range, roundrobin, sticky, cooperative-sticky)");
    };
  }

  /**
   * One node per distinct rack name (ids 0.., in order of first mention), plus one rack-less node for partitions
   * listed without racks. A partition's replicas are the nodes of its racks, in order; the first leads; all are in sync.
   */
  private static Cluster cluster(JsonNode topics) {
    Map<String, Node> rackNodes = new LinkedHashMap<>();
    Node rackless = new Node(RACKLESS_NODE_ID, "localhost", FIRST_PORT + RACKLESS_NODE_ID);
    boolean racklessUsed = false;
    List<PartitionInfo> partitions = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (JsonNode topic : topics) {
      String name = OracleJson.text(topic, "name");
      if (!names.add(name)) throw new IllegalArgumentException("topic \"" + name + "\" is listed twice");
      int count = OracleJson.intOr(topic, "partitions", -1);
      if (count < 0) throw new IllegalArgumentException("topic \"" + name + "\" needs a partition count of 0 or more");
      JsonNode racks = topic.get("partitionRacks");
      boolean hasRacks = racks != null && !racks.isNull();
      if (hasRacks && (!racks.isArray() || racks.size() != count)) {
        throw new IllegalArgumentException("\"partitionRacks\" of topic \"" + name + "\" must be an array of " + count + " arrays");
      }
      for (int partition = 0; partition < count; partition++) {
        List<Node> replicas = new ArrayList<>();
        if (hasRacks) {
          for (String rack : strings(racks.get(partition), "partitionRacks")) {
            Node node = rackNodes.computeIfAbsent(rack, key -> new Node(rackNodes.size(), "localhost", FIRST_PORT + rackNodes.size(), key));
            if (!replicas.contains(node)) replicas.add(node);
          }
        }
        if (replicas.isEmpty()) {
          replicas.add(rackless);
          racklessUsed = true;
        }
        Node[] nodes = replicas.toArray(new Node[0]);
        partitions.add(new PartitionInfo(name, partition, nodes[0], nodes, nodes));
      }
    }
    List<Node> nodes = new ArrayList<>(rackNodes.values());
    if (racklessUsed) nodes.add(rackless);
    return new Cluster("sluice-oracle", nodes, partitions, Collections.emptySet(), Collections.emptySet());
  }

  private static Subscription subscription(JsonNode member) {
    List<String> topics = strings(array(member, "topics"), "topics");
    byte[] userData = OracleJson.bytesOrNull(member.get("userData"), "userData");
    JsonNode owned = member.get("ownedPartitions");
    List<TopicPartition> ownedPartitions =
        owned == null || owned.isNull() ? new ArrayList<>() : topicPartitions(owned, "ownedPartitions");
    int generationId = OracleJson.intOr(member, "generationId", -1);
    Optional<String> rackId = Optional.ofNullable(OracleJson.textOr(member, "rackId", null));
    Subscription subscription =
        new Subscription(topics, userData == null ? null : ByteBuffer.wrap(userData), ownedPartitions, generationId, rackId);
    // Set by the consumer's coordinator from JoinGroup's member list, as here.
    subscription.setGroupInstanceId(Optional.ofNullable(OracleJson.textOr(member, "groupInstanceId", null)));
    return subscription;
  }

  private static JsonNode array(JsonNode request, String name) {
    JsonNode node = request.get(name);
    if (node == null || !node.isArray()) throw new IllegalArgumentException("\"" + name + "\" must be an array");
    return node;
  }

  private static List<String> strings(JsonNode node, String name) {
    if (node == null || !node.isArray()) throw new IllegalArgumentException("\"" + name + "\" must be an array of strings");
    List<String> values = new ArrayList<>();
    for (JsonNode value : node) {
      if (!value.isTextual()) throw new IllegalArgumentException("\"" + name + "\" must be an array of strings");
      values.add(value.asText());
    }
    return values;
  }

  private static List<TopicPartition> topicPartitions(JsonNode node, String name) {
    if (!node.isArray()) throw new IllegalArgumentException("\"" + name + "\" must be an array of { topic, partition }");
    List<TopicPartition> partitions = new ArrayList<>();
    for (JsonNode entry : node) {
      if (!entry.isObject()) throw new IllegalArgumentException("\"" + name + "\" must be an array of { topic, partition }");
      int partition = OracleJson.intOr(entry, "partition", -1);
      if (partition < 0) throw new IllegalArgumentException("\"" + name + "\" needs a partition number of 0 or more in every entry");
      partitions.add(new TopicPartition(OracleJson.text(entry, "topic"), partition));
    }
    return partitions;
  }

  private static void putBytes(ObjectNode target, String name, ByteBuffer buffer) {
    if (buffer == null) {
      target.putNull(name);
      return;
    }
    ByteBuffer view = buffer.duplicate();
    byte[] bytes = new byte[view.remaining()];
    view.get(bytes);
    target.put(name, OracleJson.base64(bytes));
  }
}
