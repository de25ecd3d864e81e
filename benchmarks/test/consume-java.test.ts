import { describe, expect, it } from 'vitest';
import { consumerSettings, javaSample, parseConsumerPerformance, parseJavaSampleLine } from '../src/consume-java.ts';

// Kafka's Java consumer is measured by its own tool's summary line: parsing it, and holding it to the exact counts
// every other client is held to, must not drift.

const output = [
  'SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".',
  'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
  '2026-12-03 11:40:01:123, 2026-12-03 11:40:03:456, 101.0777, 43.3252, 1000000, 428632.6618, 312, 2021, 50.0137, 494804.5522',
  '2026-12-03 11:40:04:000, 2026-12-03 11:40:05:500, 101.0777, 67.3851, 1000000, 666666.6667, 45, 1455, 69.4692, 687285.2234',
  '{"type":"sluice-bench-java-sample","cpuNs":2500000000,"wallNs":1600000000,"processCpuNs":9000000000,"vmHwmKiB":409600}',
].join('\n');

describe('parseConsumerPerformance', () => {
  it('reads every summary line and skips the header and other output', () => {
    const summaries = parseConsumerPerformance(output);
    expect(summaries).toHaveLength(2);
    expect(summaries[1]).toEqual({
      mebibytes: 101.0777,
      mebibytesPerSecond: 67.3851,
      records: 1_000_000,
      recordsPerSecond: 666666.6667,
      rebalanceMs: 45,
      fetchMs: 1455,
      fetchMebibytesPerSecond: 69.4692,
      fetchRecordsPerSecond: 687285.2234,
    });
  });

  it('skips the warning of a run that timed out, keeping its (short) summary', () => {
    const short = parseConsumerPerformance(
      'WARNING: Exiting before consuming the expected number of messages: timeout (10000 ms) exceeded. You can use the --timeout option to increase the timeout.\n' +
        '2026-12-03 11:40:01:123, 2026-12-03 11:40:13:456, 1.0000, 0.0811, 10000, 810.9, 30, 12303, 0.0812, 812.8\n',
    );
    expect(short.map((summary) => summary.records)).toEqual([10_000]);
  });
});

describe('javaSample', () => {
  const expected = { records: 1_000_000, bytes: Math.round(101.0777 * 2 ** 20), warmUpReads: 1 };

  it("takes the timed run (the last summary): the tool's own elapsed ms, the wrapper's CPU and peak RSS", () => {
    const sample = javaSample(parseConsumerPerformance(output), parseJavaSampleLine(output), expected);
    expect(sample).toEqual({
      records: 1_000_000,
      bytes: expected.bytes,
      seconds: 1.5,
      secondsToFirstRecord: null,
      steadySeconds: null,
      joinSeconds: 0.045,
      cpuSeconds: 2.5,
      processCpuSeconds: 9,
      maxRssMiB: 400,
    });
  });

  it('holds every run to the exact record count and the bytes to the precision of its MiB', () => {
    const summaries = parseConsumerPerformance(output);
    const line = parseJavaSampleLine(output);
    expect(() => javaSample(summaries, line, { ...expected, records: 1_000_001 })).toThrow(/expected exactly 1000001/);
    expect(() => javaSample(summaries, line, { ...expected, bytes: expected.bytes + 50 })).not.toThrow();
    expect(() => javaSample(summaries, line, { ...expected, bytes: expected.bytes + 100 })).toThrow(/key\+value bytes/);
    expect(() => javaSample(summaries, line, { ...expected, warmUpReads: 0 })).toThrow(/2 summaries, expected 1/);
    expect(() => javaSample(summaries, null, expected)).toThrow(/no sample line/);
  });
});

describe('consumerSettings', () => {
  it('passes the same fetch sizes as every client, from the earliest offset, without commits', () => {
    expect(
      consumerSettings({ maxBytes: 52_428_800, partitionMaxBytes: 1_048_576, maxWaitMs: 500, minBytes: 1 }, 500),
    ).toEqual({
      'fetch.max.bytes': 52_428_800,
      'max.partition.fetch.bytes': 1_048_576,
      'fetch.max.wait.ms': 500,
      'fetch.min.bytes': 1,
      'max.poll.records': 500,
      'auto.offset.reset': 'earliest',
      'enable.auto.commit': 'false',
      'isolation.level': 'read_uncommitted',
    });
  });
});
