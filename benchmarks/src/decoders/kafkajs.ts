import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import * as lz4 from 'lz4-napi';
import * as snappy from 'snappy';
import { type Checksum, type DecoderUnderTest, emptyChecksum, hashBytes, type Tally } from './decoder.ts';

// KafkaJS's own Fetch v11 response decoder (src/protocol/requests/fetch/v11/response.js): `decode` reads the
// response and every record batch (v4/decodeMessages.js -> recordBatch/v0/decoder.js -> record/v0/decoder.js),
// `parse` checks error codes. It is CommonJS without types, and not exported from the package root.
const require = createRequire(import.meta.url);

interface KafkajsMessage {
  readonly offset: string;
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | Buffer[]>;
}
interface KafkajsResponse {
  readonly responses: { readonly partitions: { readonly messages: KafkajsMessage[] }[] }[];
}
interface KafkajsFetchResponse {
  decode(rawData: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<KafkajsResponse>;
}
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const fetchResponseV11 = require('kafkajs/src/protocol/requests/fetch/v11/response.js') as KafkajsFetchResponse;
const { CompressionTypes, CompressionCodecs } = require('kafkajs') as {
  CompressionTypes: Record<'GZIP' | 'Snappy' | 'LZ4' | 'ZSTD', number>;
  CompressionCodecs: Record<number, () => KafkajsCodec>;
};

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** Raw snappy, or the xerial framing of Kafka's Java producer (what the kafkajs-snappy codec also reads). */
function snappyUncompress(data: Buffer): Buffer {
  if (data.length < 16 || !data.subarray(0, 8).equals(xerialMagic)) {
    return snappy.uncompressSync(data, { asBuffer: true }) as Buffer;
  }
  const blocks: Buffer[] = [];
  for (let position = 16; position < data.length; ) {
    const length = data.readInt32BE(position);
    blocks.push(
      snappy.uncompressSync(data.subarray(position + 4, position + 4 + length), { asBuffer: true }) as Buffer,
    );
    position += 4 + length;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

const notForProducing = (): Promise<Buffer> => Promise.reject(new Error('the benchmark only decodes'));

/**
 * KafkaJS reads only gzip (zlib.unzip, asynchronous) by itself; users plug in the others through CompressionCodecs.
 * These adapters sit over the libraries Sluice uses, called synchronously like Sluice's `decompressSync`.
 */
export function registerKafkajsCodecs(): void {
  const codecs: Record<number, KafkajsCodec> = {
    [CompressionTypes.Snappy]: { compress: notForProducing, decompress: async (data) => snappyUncompress(data) },
    [CompressionTypes.LZ4]: { compress: notForProducing, decompress: async (data) => lz4.decompressFrameSync(data) },
    [CompressionTypes.ZSTD]: { compress: notForProducing, decompress: async (data) => zlib.zstdDecompressSync(data) },
  };
  for (const [type, codec] of Object.entries(codecs)) CompressionCodecs[Number(type)] = () => codec;
}

async function decodeFetch(body: Buffer): Promise<KafkajsResponse> {
  return fetchResponseV11.parse(await fetchResponseV11.decode(body));
}

export async function kafkajsTally(body: Buffer): Promise<Tally> {
  let records = 0;
  let keyBytes = 0;
  let valueBytes = 0;
  let lastOffset = '';
  let lastTimestamp = '';
  const response = await decodeFetch(body);
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      const messages = partition.messages;
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index]!;
        records++;
        lastOffset = message.offset;
        lastTimestamp = message.timestamp;
        if (message.key !== null) keyBytes += message.key.length;
        if (message.value !== null) valueBytes += message.value.length;
      }
    }
  }
  return { records, keyBytes, valueBytes, lastOffset, lastTimestamp };
}

export async function kafkajsChecksum(body: Buffer): Promise<Checksum> {
  const checksum = emptyChecksum();
  let offsetSum = 0n;
  let timestampSum = 0n;
  for (const topic of (await decodeFetch(body)).responses) {
    for (const partition of topic.partitions) {
      for (const message of partition.messages) {
        checksum.records++;
        checksum.keyHash = hashBytes(checksum.keyHash, message.key);
        checksum.valueHash = hashBytes(checksum.valueHash, message.value);
        offsetSum += BigInt(message.offset);
        timestampSum += BigInt(message.timestamp);
        for (const value of Object.values(message.headers)) checksum.headers += Array.isArray(value) ? value.length : 1;
      }
    }
  }
  checksum.offsetSum = String(offsetSum);
  checksum.timestampSum = String(timestampSum);
  return checksum;
}

export const kafkajsDecoder: DecoderUnderTest = {
  id: 'kafkajs',
  label: 'KafkaJS',
  unsupported: () => undefined,
  tally: (fixture) => kafkajsTally(fixture.body),
  checksum: (fixture) => kafkajsChecksum(fixture.body),
};
