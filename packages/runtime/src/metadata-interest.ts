/**
 * Which topics the cluster metadata describes. This manager is the only writer of `ClusterMetadata.setTopics`:
 * it unites what every source needs (the subscription or the assignment, the group's topics while this member
 * leads, topics of pending offset lookups) and changes the metadata's topics only when the union changes. Any
 * source that needs every topic (a pattern subscription) makes the metadata describe all of them.
 *
 * It sends nothing itself: the metadata driver (`ClusterMetadata`) refreshes when its topics change, on
 * `metadata.max.age.ms`, and when someone reports stale metadata.
 */
import type { ClusterMetadata } from '@sluice/net';
import { IDLE, type ManagerPoll, type RequestManager } from './request-manager.ts';
import type { SubscriptionState } from './subscription-state.ts';

/** A source of topics the metadata must describe; 'all' for every topic of the cluster. */
export interface TopicInterest {
  topicsOfInterest(): Iterable<string> | 'all';
}

export class MetadataInterest implements RequestManager {
  readonly #metadata: Pick<ClusterMetadata, 'setTopics'>;
  readonly #sources: readonly TopicInterest[];
  /** What was last given to the metadata: a sorted list joined by NUL, or 'all'; null before the first poll. */
  #current: string | null = null;

  constructor(options: { metadata: Pick<ClusterMetadata, 'setTopics'>; sources: readonly TopicInterest[] }) {
    this.#metadata = options.metadata;
    this.#sources = options.sources;
  }

  poll(_now: number): ManagerPoll {
    const topics = new Set<string>();
    let all = false;
    for (const source of this.#sources) {
      const wanted = source.topicsOfInterest();
      if (wanted === 'all') {
        all = true;
        break;
      }
      for (const topic of wanted) topics.add(topic);
    }
    const sorted = all ? null : [...topics].sort();
    const key = sorted === null ? 'all' : sorted.join('\u0000');
    if (key !== this.#current) {
      this.#current = key;
      this.#metadata.setTopics(sorted);
    }
    return IDLE;
  }
}

/**
 * The subscription's topics and the topics of the assignment; every topic for a pattern (matched here) and for a
 * coordinator-side regular expression (the assignment names topics by id, which metadata of every topic resolves).
 */
export function subscriptionInterest(subscriptions: SubscriptionState): TopicInterest {
  return {
    topicsOfInterest() {
      if (subscriptions.type === 'pattern' || subscriptions.type === 'regex') return 'all';
      return [...subscriptions.subscription, ...subscriptions.assignedTopics()];
    },
  };
}
