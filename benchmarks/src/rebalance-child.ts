/**
 * The member that bench:rebalance kills: a Sluice consumer in a process of its own that subscribes, polls, and
 * prints its partition count whenever it changes (`{"owned":6}`), until it is killed or its stdin closes.
 */
import { KafkaConsumer } from '@sluice/consumer';

const { bootstrap, topic, config } = JSON.parse(process.argv[2]!) as {
  bootstrap: string;
  topic: string;
  config: Record<string, unknown>;
};
const consumer = new KafkaConsumer({ 'bootstrap.servers': bootstrap, ...config });
let stopping = false;
process.stdin.on('close', () => {
  stopping = true;
});
process.stdin.resume();
consumer.subscribe([topic]);
let last = -1;
while (!stopping) {
  await consumer.poll(100);
  const owned = consumer.assignment().length;
  if (owned !== last) {
    last = owned;
    process.stdout.write(`${JSON.stringify({ owned })}\n`);
  }
}
await consumer.close();
process.exit(0);
