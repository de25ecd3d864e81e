// @sluice/tools-admin: what tests and tools do to a broker besides consuming.

export { addPartitions, coordinatorOf, createTopic, produce } from './topics.ts';
