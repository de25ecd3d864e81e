/** One partition of one topic: the unit every layer above the codec keeps state for. Declared here, once. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}
