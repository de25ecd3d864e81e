/** Every scenario of the suite, in the order they run (the order). */
import type { Scenario } from '../scenario.ts';
import { brokerRollingKill, brokerRollingRestart, coordinatorKill, leaderKill } from './brokers.ts';
import { hostileInput } from './hostile.ts';
import { consumerKill, consumerRollingRestart, slowConsumer, staticRestart } from './members.ts';
import { memoryBound } from './memory.ts';
import { networkFaults } from './network.ts';
import { saslReauthentication } from './reauth.ts';
import { soak } from './soak.ts';
import { topicChanges } from './topics.ts';
import { transactions } from './transactions.ts';

export const SCENARIOS: readonly Scenario[] = [
  brokerRollingRestart,
  brokerRollingKill,
  consumerRollingRestart,
  consumerKill,
  coordinatorKill,
  leaderKill,
  networkFaults,
  slowConsumer,
  staticRestart,
  topicChanges,
  transactions,
  memoryBound,
  soak,
  hostileInput,
  saslReauthentication,
];
