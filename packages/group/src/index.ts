// @sluice/group: consumer group membership.

export {
  ClassicMembership,
  type ClassicMembershipOptions,
  type MembershipEvent,
  type MembershipRequest,
  type MembershipState,
} from './classic-membership.ts';
export {
  acceptAssignment,
  assignAsLeader,
  decodeGroupSubscriptions,
  GroupAssignmentError,
  type GroupSubscriptions,
  joinGroupProtocols,
  rebalanceProtocolOf,
  type SubscriptionState,
} from './consumer-assignment.ts';
export { assignorMetadata, GroupMember, type GroupMemberOptions, type RebalanceListener } from './group-member.ts';
