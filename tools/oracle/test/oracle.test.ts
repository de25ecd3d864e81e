import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CompressionCodec,
  type Oracle,
  OracleError,
  parseLine,
  startOracle,
  stringifyLine,
} from '../src/index.ts';

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

let oracle: Oracle;

beforeAll(async () => {
  oracle = await startOracle();
}, 120_000);

afterAll(async () => {
  await oracle?.close();
});

describe('json lines', () => {
  it('sends bigints as raw numbers and bytes as base64, and reads large integers back as bigints', () => {
    const line = stringifyLine({ big: 9007199254740993n, small: 5n, bytes: new Uint8Array([1, 2, 3]) });
    expect(line).toBe('{"big":9007199254740993,"small":5,"bytes":"AQID"}');
    expect(parseLine('{"big":9007199254740993,"small":5,"real":1.5}')).toEqual({
      big: 9007199254740993n,
      small: 5,
      real: 1.5,
    });
  });
});

describe('messages', () => {
  it('encodes ApiVersionsRequest v3 (flexible: compact strings, empty tagged fields) and decodes it back', async () => {
    const json = { clientSoftwareName: 'sluice', clientSoftwareVersion: '0.1' };
    const bytes = await oracle.encode({ message: 'ApiVersionsRequest', version: 3, json });
    // compact string = unsigned varint (length + 1), then UTF-8; the message ends with 0 tagged fields.
    expect([...bytes]).toEqual([7, ...text('sluice'), 4, ...text('0.1'), 0]);
    const decoded = await oracle.decode({ message: 'ApiVersionsRequest', version: 3, bytes });
    expect(decoded).toEqual({ json, consumed: 12, remaining: 0, consumedAll: true });
  });

  it('carries tagged fields and int64 values beyond 2^53 exactly (ApiVersionsResponse v3)', async () => {
    const json = {
      errorCode: 0,
      apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 4 }],
      throttleTimeMs: 0,
      supportedFeatures: [{ name: 'kraft.version', minVersion: 0, maxVersion: 1 }],
      finalizedFeaturesEpoch: 9007199254740993n,
      finalizedFeatures: [{ name: 'kraft.version', maxVersionLevel: 1, minVersionLevel: 1 }],
      zkMigrationReady: true,
    };
    const bytes = await oracle.encode({ message: 'ApiVersionsResponse', version: 3, json });
    const decoded = await oracle.decode({ message: 'ApiVersionsResponse', version: 3, bytes });
    expect(decoded.consumedAll).toBe(true);
    expect(decoded.json).toEqual({ ...json, finalizedFeaturesEpoch: '9007199254740993' });
    // The same value given as a decimal string makes the same bytes.
    const again = await oracle.encode({
      message: 'ApiVersionsResponse',
      version: 3,
      json: { ...json, finalizedFeaturesEpoch: '9007199254740993' },
    });
    expect(again).toEqual(bytes);
    // As raw numbers on request: large ones come back as bigints.
    const numbers = await oracle.call({
      op: 'decode',
      message: 'ApiVersionsResponse',
      version: 3,
      bytes,
      int64: 'number',
    });
    expect((numbers.json as Record<string, unknown>).finalizedFeaturesEpoch).toBe(9007199254740993n);
  });

  it('round-trips MetadataResponse v12', async () => {
    const json = {
      throttleTimeMs: 0,
      brokers: [
        { nodeId: 1, host: 'localhost', port: 9092, rack: null },
        { nodeId: 2, host: 'broker-2', port: 9093, rack: 'eu-1a' },
      ],
      clusterId: 'abc',
      controllerId: 1,
      topics: [
        {
          errorCode: 0,
          name: 'orders',
          topicId: 'AAAAAAAAAAAAAAAAAAAAAQ',
          isInternal: false,
          partitions: [
            {
              errorCode: 0,
              partitionIndex: 0,
              leaderId: 1,
              leaderEpoch: 3,
              replicaNodes: [1, 2],
              isrNodes: [1],
              offlineReplicas: [],
            },
          ],
          topicAuthorizedOperations: -2147483648,
        },
        {
          errorCode: 3,
          name: null,
          topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: -2147483648,
        },
      ],
    };
    const bytes = await oracle.encode({ message: 'MetadataResponse', version: 12, json });
    const decoded = await oracle.decode({ message: 'MetadataResponse', version: 12, bytes });
    expect(decoded.consumedAll).toBe(true);
    expect(decoded.json).toEqual(json);
  });

  it('round-trips FetchResponse v16 with a records field holding a real batch', async () => {
    const records = await oracle.buildRecords({
      codec: 'lz4',
      baseOffset: 40n,
      records: [{ timestamp: 1_700_000_000_000n, key: text('k'), value: text('v') }],
    });
    const json = {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: [
        {
          topicId: 'AAAAAAAAAAAAAAAAAAAAAQ',
          partitions: [
            {
              partitionIndex: 0,
              errorCode: 0,
              highWatermark: 41n,
              lastStableOffset: 41n,
              logStartOffset: 0n,
              abortedTransactions: null,
              preferredReadReplica: -1,
              records,
            },
          ],
        },
      ],
    };
    const bytes = await oracle.encode({ message: 'FetchResponse', version: 16, json });
    const decoded = await oracle.decode({ message: 'FetchResponse', version: 16, bytes });
    expect(decoded.consumedAll).toBe(true);
    const partition = (decoded.json.responses as { partitions: Record<string, unknown>[] }[])[0]!.partitions[0]!;
    expect(partition.highWatermark).toBe('41');
    expect(partition.records).toBe(Buffer.from(records).toString('base64'));
    const readout = await oracle.readRecords(partition.records as string);
    expect(readout.batches[0]!.records[0]!.offset).toBe(40n);
  });

  it('makes random messages whose bytes Java decodes back to the same JSON, and whose JSON encodes to the same bytes', async () => {
    const cases = [
      { message: 'MetadataResponse', version: 12 },
      { message: 'FetchResponse', version: 17 },
      { message: 'OffsetCommitRequest', version: 9 },
      { message: 'RequestHeader', version: 2 },
    ];
    const work = cases.flatMap((testCase) =>
      Array.from({ length: 25 }, (_, seed) => ({ ...testCase, seed })).map(async (request) => {
        const made = await oracle.random(request);
        const decoded = await oracle.decode({ ...request, bytes: made.bytes });
        expect(decoded.consumedAll).toBe(true);
        expect(decoded.json).toEqual(made.json);
        expect(await oracle.encode({ ...request, json: made.json })).toEqual(made.bytes);
      }),
    );
    await Promise.all(work);
  });

  it('keeps answers whole when a string holds U+2028 or U+2029 (Jackson leaves them unescaped)', async () => {
    const json = { clientSoftwareName: 'a\u2028b\u2029c', clientSoftwareVersion: '1' };
    const bytes = await oracle.encode({ message: 'ApiVersionsRequest', version: 3, json });
    const [decoded, again] = await Promise.all([
      oracle.decode({ message: 'ApiVersionsRequest', version: 3, bytes }),
      oracle.call({ op: 'ping' }),
    ]);
    expect(decoded.json).toMatchObject(json);
    expect(again).toMatchObject({ pong: true });
  });

  it('answers pipelined requests in order', async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, index) => oracle.call({ op: 'ping', id: index })),
    );
    expect(answers.map((answer) => answer.id)).toEqual(Array.from({ length: 300 }, (_, index) => index));
  });
});

describe('records', () => {
  const codecs: CompressionCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
  const records = [
    { timestamp: 1_700_000_000_000n, key: text('key-0'), value: text('value-0') },
    { timestamp: 1_700_000_000_001n, key: null, value: text('value-1'), headers: [{ key: 'h', value: text('x') }] },
    { timestamp: 1_700_000_000_002n, key: text('key-2'), value: null, headers: [{ key: 'empty', value: null }] },
  ];
  const codecIds: Record<CompressionCodec, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

  it.each(codecs)('builds and reads a magic 2 batch in %s', async (codec) => {
    const bytes = await oracle.buildRecords({
      codec,
      baseOffset: 9007199254740993n,
      producerId: 77n,
      producerEpoch: 2,
      baseSequence: 10,
      partitionLeaderEpoch: 5,
      records,
    });
    const readout = await oracle.readRecords(bytes);
    expect(readout.trailing).toBe(0);
    expect(readout.batches).toHaveLength(1);
    const batch = readout.batches[0]!;
    expect(batch).toMatchObject({
      magic: 2,
      codec,
      valid: true,
      baseOffset: 9007199254740993n,
      lastOffset: 9007199254740995n,
      producerId: 77n,
      producerEpoch: 2,
      baseSequence: 10,
      lastSequence: 12,
      partitionLeaderEpoch: 5,
      transactional: false,
      control: false,
      count: 3,
      timestampType: 'create',
      maxTimestamp: 1_700_000_000_002n,
    });
    expect(batch.attributes & 0x7).toBe(codecIds[codec]);
    expect(batch.records.map((record) => record.offset)).toEqual([
      9007199254740993n,
      9007199254740994n,
      9007199254740995n,
    ]);
    expect(batch.records.map(({ key, value, headers, timestamp }) => ({ key, value, headers, timestamp }))).toEqual(
      records.map(({ key, value, headers, timestamp }) => ({ key, value, headers: headers ?? [], timestamp })),
    );
  });

  const legacyCases = ([0, 1] as const).flatMap((magic) =>
    (['none', 'gzip', 'snappy', 'lz4'] as const).map((codec) => ({ name: `magic ${magic} in ${codec}`, magic, codec })),
  );

  it.each(legacyCases)('builds and reads a legacy message set: $name', async ({ magic, codec }) => {
    const legacy = records.map(({ timestamp, key, value }) => ({ timestamp, key, value }));
    const bytes = await oracle.buildRecords({ magic, codec, baseOffset: 100n, records: legacy });
    const readout = await oracle.readRecords(bytes);
    expect(readout.trailing).toBe(0);
    // Uncompressed legacy entries are one "batch" each; a compressed set is one wrapper message.
    expect(readout.batches).toHaveLength(codec === 'none' ? 3 : 1);
    for (const batch of readout.batches) {
      expect(batch).toMatchObject({ magic, codec, valid: true, timestampType: magic === 0 ? 'none' : 'create' });
      expect(batch.attributes & 0x7).toBe(codecIds[codec]);
    }
    const all = readout.batches.flatMap((batch) => batch.records);
    expect(all.map((record) => record.offset)).toEqual([100n, 101n, 102n]);
    expect(all.map(({ key, value }) => ({ key, value }))).toEqual(legacy.map(({ key, value }) => ({ key, value })));
    const timestamps = all.map((record) => record.timestamp);
    expect(timestamps).toEqual(magic === 0 ? [-1n, -1n, -1n] : legacy.map((record) => record.timestamp));
  });

  it('builds and reads a control batch (commit marker)', async () => {
    const bytes = await oracle.buildRecords({
      control: { type: 'commit', coordinatorEpoch: 7 },
      baseOffset: 12n,
      producerId: 4000n,
      producerEpoch: 3,
      timestamp: 1_700_000_000_000n,
    });
    const batch = (await oracle.readRecords(bytes)).batches[0]!;
    expect(batch).toMatchObject({
      control: true,
      transactional: true,
      producerId: 4000n,
      producerEpoch: 3,
      valid: true,
    });
    expect(batch.records).toHaveLength(1);
    expect(batch.records[0]).toMatchObject({ offset: 12n, controlType: 'commit', coordinatorEpoch: 7 });
  });

  it('reads several batches, a partial one at the end, and reports a bad CRC', async () => {
    const first = await oracle.buildRecords({ baseOffset: 0n, records: [{ value: text('a') }] });
    const second = await oracle.buildRecords({ codec: 'zstd', baseOffset: 1n, records: [{ value: text('b') }] });
    const joined = Buffer.concat([first, second, second.subarray(0, 20)]);
    const readout = await oracle.readRecords(joined);
    expect(readout.batches.map((batch) => [batch.position, batch.baseOffset])).toEqual([
      [0, 0n],
      [first.length, 1n],
    ]);
    expect(readout.trailing).toBe(20);

    const corrupt = Uint8Array.from(first);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const bad = (await oracle.readRecords(corrupt)).batches[0]!;
    expect(bad.valid).toBe(false);
    expect(bad.invalidReason).toMatch(/CorruptRecordException/);
  });
});

describe('errors', () => {
  it('answers a failing request with an error and keeps serving', async () => {
    const answer = await oracle.call({ op: 'encode', message: 'NoSuchRequest', version: 0, json: {} });
    expect(answer.error).toMatch(/^java\.lang\.IllegalArgumentException: Kafka has no message NoSuchRequest/);
    await expect(oracle.encode({ message: 'FetchRequest', version: 17, json: {} })).rejects.toThrow(OracleError);
    await expect(oracle.buildRecords({ magic: 1, codec: 'zstd', records: [] })).rejects.toThrow(/ZStandard/);
    await expect(
      oracle.decode({ message: 'MetadataRequest', version: 12, bytes: new Uint8Array([0, 0, 0, 5]) }),
    ).rejects.toThrow(OracleError);
    expect((await oracle.call({ op: 'ping' })).pong).toBe(true);
  });
});
