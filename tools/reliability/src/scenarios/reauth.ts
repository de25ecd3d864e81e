/** KIP-368 re-authentication of every SASL connection, every few seconds, under a reading, committing group. */

import { setTimeout as sleep } from 'node:timers/promises';
import { groupScenario, MEMBER_CONFIG, type Scenario } from '../scenario.ts';

/** The brokers' connections.max.reauth.ms in the suite's cluster (see cli.ts). */
export const REAUTH_MS = 3_000;

export const saslReauthentication: Scenario = {
  name: 'sasl-reauthentication',
  title: `SASL/SCRAM sessions that expire every ${REAUTH_MS / 1000} s (KIP-368) under continuous load`,
  guarantee: '0 lost, 0 duplicates, 0 rebalances, no poll or commit failed',
  run: (context) => {
    const sasl = context.cluster.sasl!;
    return groupScenario(context, {
      bootstrap: context.cluster.bootstrap('SASL_PLAINTEXT'),
      memberConfig: {
        ...MEMBER_CONFIG,
        'security.protocol': 'SASL_PLAINTEXT',
        'sasl.mechanism': 'SCRAM-SHA-512',
        'sasl.username': sasl.username,
        'sasl.password': sasl.password,
      },
      allowed: { duplicates: 'none', rebalances: 'none' },
      script: async (control) => {
        await control.steady();
        // Each connection re-authenticates 10 (quick) or 40 times.
        await sleep(REAUTH_MS * (context.quick ? 10 : 40));
      },
      judge: (result) => (result.report.commitFailures === 0 ? [] : [`${result.report.commitFailures} commits failed`]),
    });
  },
};
