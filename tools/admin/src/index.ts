// @sluice/tools-admin: what tests and tools do to a broker besides consuming.

export { addPartitions, coordinatorOf, createTopic, deleteTopic, produce } from './topics.ts';
