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
