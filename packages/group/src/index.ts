// @sluice/group: consumer group membership (the classic protocol's consumer payloads so far).

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
