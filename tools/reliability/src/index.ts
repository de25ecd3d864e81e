// @sluice/tools-reliability: fault scenarios against real brokers, and the checker that reads their logs.

export { type Allowed, type CheckReport, checkLogs, type MemberLog, violations } from './checker.ts';
export { type AbortedEntry, type AckEntry, type DriverEntry, JsonLinesLog, type MemberEntry } from './log.ts';
export type { MemberOptions } from './member.ts';
export { MemberProcess } from './members.ts';
export { LoggingProducer, type LoggingProducerOptions, type ScenarioProducer } from './producer.ts';
export {
  type TransactionalLogEntry,
  TransactionalProducer,
  type TransactionalProducerOptions,
  type TransactionalProducerSummary,
} from './transactional-producer.ts';
export { runWorkload, type WorkloadControl, type WorkloadOptions, type WorkloadResult } from './workload.ts';
