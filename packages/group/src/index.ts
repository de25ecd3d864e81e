// @sluice/group: consumer group membership.

export {
  ClassicMembership,
  type ClassicMembershipOptions,
  type MembershipEvent,
  type MembershipRequest,
  type MembershipState,
} from './classic-membership.ts';
export {
  assignorMetadata,
  ClassicMembershipManager,
  type ClassicMembershipManagerOptions,
} from './classic-membership-manager.ts';
export {
  acceptAssignment,
  assignAsLeader,
  decodeGroupSubscriptions,
  GroupAssignmentError,
  type GroupSubscriptions,
  type JoinSubscription,
  joinGroupProtocols,
  rebalanceProtocolOf,
} from './consumer-assignment.ts';
export {
  type ConsumerMemberState,
  ConsumerMembership,
  type ConsumerMembershipOptions,
  GroupProtocolUnsupportedError,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
} from './consumer-membership.ts';
export { CoordinatorManager, type CoordinatorManagerOptions, type CoordinatorView } from './coordinator-manager.ts';
export type {
  CommitIdentity,
  CommitPermission,
  ConsumerGroupMetadata,
  Membership,
  RebalanceStep,
} from './membership.ts';
