import { describe, expect, it } from 'vitest';
import type { ClientId } from '../src/consume-clients.ts';
import {
  type ClientOutcome,
  childFailureReason,
  evaluateTargets,
  median,
  parseRows,
  type RowResult,
  renderRowTable,
  rowFigures,
  type Sample,
} from '../src/consume-report.ts';
import type { ConsumeRow } from '../src/consume-topic.ts';

// The figures and verdicts of `pnpm bench:consume`: what the tables and the targets line say must follow from the
// samples, whatever clients failed or were left out.

function sample(recordsPerSecond: number, extra: Partial<Sample> = {}): Sample {
  const records = 1_000_000;
  return {
    records,
    bytes: records * 100,
    seconds: records / recordsPerSecond,
    secondsToFirstRecord: 0.05,
    steadySeconds: records / recordsPerSecond - 0.05,
    cpuSeconds: 2,
    maxRssMiB: 200,
    ...extra,
  };
}

function outcome(id: ClientId, rates: readonly number[], extra: Partial<Sample> = {}): ClientOutcome {
  return { id, label: id, settings: '', samples: rates.map((rate) => sample(rate, extra)), failure: null };
}

function rowResult(id: string, outcomes: readonly ClientOutcome[]): RowResult {
  const [size, codec] = id.split(':');
  const row = { id, valueBytes: Number(size), compression: codec } as ConsumeRow;
  return {
    row,
    fill: {
      topic: 't',
      partitions: 8,
      records: 1_000_000,
      payloadBytes: 1e8,
      batchBytes: 1e8,
      batches: 2000,
      recordsPerBatch: 500,
      seconds: 1,
    },
    failure: null,
    clients: rowFigures(outcomes),
    wallSeconds: 60,
  };
}

describe('parseRows', () => {
  it('takes --rows as given, in order, each once', () => {
    expect(parseRows({ rows: '1000:zstd, 100:none,1000:zstd' }).map((row) => row.id)).toEqual([
      '1000:zstd',
      '100:none',
    ]);
  });

  it('makes every size x codec pair, sizes first, by default 100 B and 1 KB x none, lz4, zstd', () => {
    expect(parseRows({}).map((row) => row.id)).toEqual([
      '100:none',
      '100:lz4',
      '100:zstd',
      '1000:none',
      '1000:lz4',
      '1000:zstd',
    ]);
    expect(parseRows({ sizes: '10', codecs: 'gzip' })).toEqual([
      { id: '10:gzip', valueBytes: 10, compression: 'gzip' },
    ]);
  });

  it('rejects unknown codecs and malformed rows', () => {
    expect(() => parseRows({ rows: '100:brotli' })).toThrow(/unknown codec/);
    expect(() => parseRows({ rows: '100' })).toThrow(/not <value bytes>:<codec>/);
    expect(() => parseRows({ rows: 'big:none' })).toThrow(/bad value size/);
  });
});

describe('median', () => {
  it('is the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('rowFigures', () => {
  it('summarises medians per client and the ratio to Sluice', () => {
    const [sluice, kafkajs] = rowFigures([
      outcome('sluice', [400_000, 500_000, 600_000]),
      outcome('kafkajs', [100_000, 250_000, 200_000], { cpuSeconds: 5, maxRssMiB: 300 }),
    ]);
    expect(sluice!.recordsPerSecond!.median).toBeCloseTo(500_000);
    expect(sluice!.recordsPerSecond!.best).toBeCloseTo(600_000);
    expect(sluice!.megabytesPerSecond!.median).toBeCloseTo(50);
    expect(sluice!.overSluice).toBeCloseTo(1);
    expect(kafkajs!.overSluice).toBeCloseTo(0.4);
    expect(kafkajs!.cpuSecondsPerMillionRecords).toBeCloseTo(5);
    expect(kafkajs!.peakRssMiB).toBe(300);
    expect(kafkajs!.medianSecondsToFirstRecord).toBeCloseTo(0.05);
  });

  it('gives a failed client no figures, and no ratios at all when Sluice failed', () => {
    const figures = rowFigures([
      { ...outcome('sluice', [500_000]), failure: 'exited with code 1: boom' },
      outcome('kafkajs', [100_000]),
    ]);
    expect(figures[0]!.recordsPerSecond).toBeNull();
    expect(figures[0]!.failure).toBe('exited with code 1: boom');
    expect(figures[1]!.recordsPerSecond!.median).toBeCloseTo(100_000);
    expect(figures[1]!.overSluice).toBeNull();
  });

  it('reports the join time where a client has no first-record time (the Java tool)', () => {
    const [java] = rowFigures([
      outcome('java', [300_000], { secondsToFirstRecord: null, steadySeconds: null, joinSeconds: 0.04 }),
    ]);
    expect(java!.medianSecondsToFirstRecord).toBeNull();
    expect(java!.medianJoinSeconds).toBeCloseTo(0.04);
    expect(java!.steadyRecordsPerSecond).toBeNull();
    const table = renderRowTable(
      rowResult('100:none', [
        outcome('sluice', [1]),
        outcome('java', [1], { secondsToFirstRecord: null, joinSeconds: 0.04 }),
      ]),
    );
    expect(table).toContain('n/a (join 40 ms)');
  });
});

describe('renderRowTable', () => {
  it('shows a failed client as FAILED and everyone else with figures', () => {
    const result = rowResult('100:none', [
      outcome('sluice', [500_000, 520_000, 480_000]),
      { ...outcome('crab', []), failure: 'cannot load the native binary' },
    ]);
    const table = renderRowTable(result).split('\n');
    expect(table).toHaveLength(4);
    expect(table[2]).toContain('500.0 k (520.0 k)');
    expect(table[2]).toContain('1.00x');
    expect(table[2]).toContain('200 MiB');
    expect(table[3]).toContain('FAILED');
  });
});

describe('evaluateTargets', () => {
  const byName = (results: RowResult[]) => new Map(evaluateTargets(results).map((target) => [target.target, target]));

  it('meets every target when Sluice is far enough ahead on every row', () => {
    const rows = ['100:none', '1000:none', '1000:zstd'].map((id) =>
      rowResult(id, [
        outcome('sluice', [900_000], { maxRssMiB: 100 }),
        outcome('platformatic', [400_000]),
        outcome('kafkajs', [250_000]),
        outcome('crab', [800_000]),
        outcome('java', [850_000]),
        outcome('bare', [1_200_000], { maxRssMiB: 50 }),
      ]),
    );
    const targets = evaluateTargets(rows);
    expect(targets.map((target) => target.status)).toEqual(['met', 'met', 'met', 'met', 'met', 'met']);
    const ceiling = byName(rows).get('Sluice >= 70 % of the bare ceiling at 1 KB (uncompressed)')!;
    expect(ceiling.details).toBe('1000:none 75 %; not judged: 1000:zstd 75 %');
  });

  it('says NOT met with the row that misses, and n/a where a figure is missing', () => {
    const rows = [
      rowResult('100:none', [
        outcome('sluice', [500_000], { maxRssMiB: 250 }),
        outcome('platformatic', [400_000], { maxRssMiB: 300 }),
        outcome('kafkajs', [100_000], { maxRssMiB: 240 }),
        { ...outcome('crab', []), failure: 'no binary' },
      ]),
    ];
    const targets = byName(rows);
    expect(targets.get('Sluice >= 2x @platformatic/kafka on every row')).toEqual({
      target: 'Sluice >= 2x @platformatic/kafka on every row',
      status: 'NOT met',
      details: '100:none 1.25x (below)',
    });
    expect(targets.get('Sluice >= 3x KafkaJS on every row')!.status).toBe('met');
    expect(targets.get('Sluice >= kafka-crab-js (librdkafka) on the uncompressed rows')!.status).toBe('n/a');
    expect(targets.get("Sluice >= Kafka's Java consumer on the uncompressed rows")!.details).toBe('100:none n/a');
    expect(targets.get('Sluice >= 70 % of the bare ceiling at 1 KB (uncompressed)')!.details).toBe(
      'no such row in this run',
    );
    const rss = targets.get("Sluice's peak RSS no higher than any peer's")!;
    expect(rss.status).toBe('NOT met');
    expect(rss.details).toBe('100:none Sluice 250 MiB, lowest peer kafkajs 240 MiB (above)');
  });
});

describe('childFailureReason', () => {
  it("takes the child's own error line, else its last line", () => {
    expect(
      childFailureReason(
        '  sluice warm-up: ...\nbench:consume child failed: Error: broker gone\n    at x (y.ts:1:1)\n',
      ),
    ).toBe('broker gone');
    expect(childFailureReason('something\nSegmentation fault\n\n')).toBe('Segmentation fault');
    expect(childFailureReason('')).toBeNull();
  });
});
