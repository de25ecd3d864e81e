/**
 * Kafka's SubscriptionPattern (KIP-848): a regular expression that the group coordinator resolves against the
 * cluster's topics, in Google RE2/J syntax and matching whole topic names. Only under `group.protocol=consumer` and
 * with Kafka 4.0 or later (ConsumerGroupHeartbeat v1). The broker refuses an expression it cannot compile with
 * INVALID_REGULAR_EXPRESSION, which ends the membership. A `RegExp` given to `subscribe` is matched here instead,
 * against the topics metadata lists, under either protocol.
 */
export class SubscriptionPattern {
  readonly pattern: string;

  constructor(pattern: string) {
    if (typeof pattern !== 'string' || pattern === '') {
      throw new TypeError('a SubscriptionPattern needs a non-empty regular expression');
    }
    this.pattern = pattern;
  }

  toString(): string {
    return this.pattern;
  }
}
