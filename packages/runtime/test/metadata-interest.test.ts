/** MetadataInterest: the union of what every source needs, given to the cluster metadata only when it changes. */
import { describe, expect, it, vi } from 'vitest';
import { MetadataInterest, subscriptionInterest, type TopicInterest } from '../src/metadata-interest.ts';
import { IDLE } from '../src/request-manager.ts';
import { SubscriptionState } from '../src/subscription-state.ts';

/** A source whose topics the test changes. */
function source(initial: readonly string[] | 'all'): TopicInterest & { wanted: readonly string[] | 'all' } {
  return {
    wanted: initial,
    topicsOfInterest() {
      return this.wanted;
    },
  };
}

function interestIn(sources: TopicInterest[]) {
  const metadata = { setTopics: vi.fn() };
  const interest = new MetadataInterest({ metadata, sources });
  return { interest, setTopics: metadata.setTopics };
}

describe('MetadataInterest', () => {
  it('gives the sorted union of the sources once, and sends nothing itself', () => {
    const { interest, setTopics } = interestIn([source(['payments', 'orders']), source(['refunds', 'orders'])]);
    expect(interest.poll(0)).toBe(IDLE);
    expect(setTopics.mock.calls).toEqual([[['orders', 'payments', 'refunds']]]);
  });

  it('does not set the topics again while the union is unchanged', () => {
    const first = source(['orders', 'payments']);
    const second = source([]);
    const { interest, setTopics } = interestIn([first, second]);
    interest.poll(0);
    interest.poll(1);
    // The same union from other sources, in another order.
    first.wanted = ['payments'];
    second.wanted = ['orders', 'payments'];
    interest.poll(2);
    expect(setTopics).toHaveBeenCalledTimes(1);
    second.wanted = ['orders', 'refunds'];
    interest.poll(3);
    expect(setTopics).toHaveBeenCalledTimes(2);
    expect(setTopics).toHaveBeenLastCalledWith(['orders', 'payments', 'refunds']);
  });

  it('gives an empty list when no source needs a topic', () => {
    const { interest, setTopics } = interestIn([source([])]);
    interest.poll(0);
    interest.poll(1);
    expect(setTopics.mock.calls).toEqual([[[]]]);
  });

  it('asks for every topic (null) while a source needs all of them, and for the union again after', () => {
    const pattern = source('all');
    const { interest, setTopics } = interestIn([source(['orders']), pattern]);
    interest.poll(0);
    interest.poll(1);
    expect(setTopics.mock.calls).toEqual([[null]]);
    pattern.wanted = ['payments'];
    interest.poll(2);
    expect(setTopics.mock.calls).toEqual([[null], [['orders', 'payments']]]);
  });
});

describe('subscriptionInterest', () => {
  const state = () => new SubscriptionState({ defaultResetStrategy: 'earliest' });

  it('needs the subscribed topics and the topics of the assignment', () => {
    const subscriptions = state();
    subscriptions.subscribe(['orders', 'payments']);
    subscriptions.assignFromSubscribed([
      { topic: 'orders', partition: 0 },
      { topic: 'refunds', partition: 1 },
    ]);
    const { interest, setTopics } = interestIn([subscriptionInterest(subscriptions)]);
    interest.poll(0);
    expect(setTopics).toHaveBeenLastCalledWith(['orders', 'payments', 'refunds']);
  });

  it('needs the assigned topics of a consumer assigned by hand', () => {
    const subscriptions = state();
    subscriptions.assignFromUser([
      { topic: 'payments', partition: 0 },
      { topic: 'orders', partition: 2 },
    ]);
    expect(new Set(subscriptionInterest(subscriptions).topicsOfInterest())).toEqual(new Set(['orders', 'payments']));
  });

  it('needs every topic for a pattern subscription', () => {
    const subscriptions = state();
    subscriptions.subscribePattern(/orders-.*/);
    subscriptions.matchPattern([{ name: 'orders-1', isInternal: false }]);
    expect(subscriptionInterest(subscriptions).topicsOfInterest()).toBe('all');
  });

  it('follows the subscription as it changes', () => {
    const subscriptions = state();
    const { interest, setTopics } = interestIn([subscriptionInterest(subscriptions)]);
    interest.poll(0);
    subscriptions.subscribe(['orders']);
    interest.poll(1);
    subscriptions.unsubscribe();
    subscriptions.subscribePattern(/.*/);
    interest.poll(2);
    expect(setTopics.mock.calls).toEqual([[[]], [['orders']], [null]]);
  });
});
