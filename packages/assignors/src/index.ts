// @sluice/assignors: client-side partition assignors, interoperable with Kafka's Java consumers in one group.

export { CooperativeStickyAssignor } from './cooperative-sticky.ts';
export { RangeAssignor } from './range.ts';
export { RoundRobinAssignor } from './round-robin.ts';
export { StickyAssignor } from './sticky.ts';
export {
  type AssignmentContext,
  AssignorError,
  type AssignorMetadata,
  type AssignorTopic,
  type MemberAssignment,
  type MemberSubscription,
  type PartitionAssignor,
  type RebalanceProtocol,
  type TopicPartition,
} from './types.ts';
