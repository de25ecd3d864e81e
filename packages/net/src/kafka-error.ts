import { KAFKA_ERROR_DEFINITIONS, type KafkaErrorDefinition } from './kafka-errors.generated.ts';

const BY_CODE = new Map<number, KafkaErrorDefinition>(
  KAFKA_ERROR_DEFINITIONS.map((definition) => [definition.code, definition]),
);

/** Kafka's definition of an error code; an unknown code (from a newer broker) is neither retriable nor metadata. */
export function kafkaErrorDefinition(code: number): KafkaErrorDefinition {
  return (
    BY_CODE.get(code) ?? {
      code,
      name: `UNKNOWN_ERROR_CODE_${code}`,
      retriable: false,
      invalidMetadata: false,
      message: `The broker returned error code ${code}, which this client does not know.`,
    }
  );
}

/**
 * An error code a broker returned, with Kafka's meaning of it. Decoders never throw these: the layer that knows
 * what a request was for turns a non-zero code into a KafkaError, naming the request and, where it applies, the
 * topic, partition or group.
 */
export class KafkaError extends Error {
  override name = 'KafkaError';
  readonly code: number;
  /** Kafka's name of the code: `NOT_COORDINATOR`. */
  readonly errorName: string;
  readonly retriable: boolean;
  /** The metadata (leaders, coordinators) the request was sent by is stale: refresh before retrying. */
  readonly invalidMetadata: boolean;

  constructor(code: number, options: { context?: string; brokerMessage?: string | null } = {}) {
    const definition = kafkaErrorDefinition(code);
    const detail = options.brokerMessage
      ? `: ${options.brokerMessage}`
      : definition.message
        ? `: ${definition.message}`
        : '';
    super(`${options.context ? `${options.context} failed with ` : ''}${definition.name} (${code})${detail}`);
    this.code = code;
    this.errorName = definition.name;
    this.retriable = definition.retriable;
    this.invalidMetadata = definition.invalidMetadata;
  }
}

/** Throws a KafkaError for a non-zero code; does nothing for 0 (NONE). */
export function throwIfKafkaError(code: number, options?: { context?: string; brokerMessage?: string | null }): void {
  if (code !== 0) throw new KafkaError(code, options);
}
