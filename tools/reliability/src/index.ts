// @sluice/tools-reliability: fault scenarios against real brokers, and the checker that reads their logs.

export { type CheckReport, checkLogs, type MemberLog, violations } from './checker.ts';
export { type ChurnOptions, type ChurnResult, runChurn } from './churn.ts';
export { type AckEntry, type DriverEntry, JsonLinesLog, type MemberEntry } from './log.ts';
export type { MemberOptions } from './member.ts';
export { MemberProcess } from './members.ts';
export { LoggingProducer, type LoggingProducerOptions } from './producer.ts';
