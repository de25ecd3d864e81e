/** Scripted FindCoordinator answers for the group package's fake-clock tests. */
import { defaultFindCoordinatorResponse, type FindCoordinatorResponse } from '@sluice/protocol';
import type { UnsentRequest } from '@sluice/runtime';

/** Answers a FindCoordinator request (v4: one entry per key) for the key 'group'. */
export function answerFindCoordinator(
  request: UnsentRequest,
  answer: { nodeId: number; errorCode?: number; now: number; key?: string },
): void {
  const response: FindCoordinatorResponse = {
    ...defaultFindCoordinatorResponse(),
    coordinators: [
      {
        key: answer.key ?? 'group',
        nodeId: answer.nodeId,
        host: 'localhost',
        port: 9092,
        errorCode: answer.errorCode ?? 0,
        errorMessage: null,
      },
    ],
  };
  void request.onResponse(response, { version: 4, nodeId: 0, now: answer.now });
}
