import * as lz4 from 'lz4-napi';
import { decodeLz4FramesCapped, planLz4Frames, withRepairedHeaderChecksum } from './lz4-frame.ts';
import { decompressionFailed, type ErrorLocation, limitExceeded } from './options.ts';

// LZ4 frames through lz4-napi (lz4_flex in Rust; its async functions run on libuv's thread pool). The frame
// structure is read first: a declared content size over the limit is refused at once, and input whose block
// structure allows more output than the limit goes to the capped JavaScript decoder instead of the native one,
// so no input makes us allocate past the limit. So does input the native decoder would cut short (several frames,
// or an empty compressed block: see Lz4FramesPlan.nativeSafe).

export interface Lz4DecodeOptions {
  /** Message format v0 wrote a wrong header checksum (KIP-57); repair it before decoding. */
  readonly legacyHeaderChecksum?: boolean;
}

// The sync functions of lz4-napi take a Buffer; wrapping a Uint8Array's memory copies nothing.
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

type Route = { readonly data: Uint8Array; readonly native: boolean };

function route(data: Uint8Array, limit: number, location: ErrorLocation, options: Lz4DecodeOptions): Route {
  const input = options.legacyHeaderChecksum ? withRepairedHeaderChecksum(data, location) : data;
  const plan = planLz4Frames(input, location);
  if (plan.declaredSize > limit) throw limitExceeded(limit, location, plan.declaredSize);
  return { data: input, native: plan.bound <= limit && plan.nativeSafe };
}

function checked(output: Buffer, limit: number, location: ErrorLocation): Buffer {
  if (output.length > limit) throw limitExceeded(limit, location, output.length);
  return output;
}

export function lz4DecompressSync(
  data: Uint8Array,
  limit: number,
  location: ErrorLocation,
  options: Lz4DecodeOptions = {},
): Uint8Array {
  const plan = route(data, limit, location, options);
  if (!plan.native) return decodeLz4FramesCapped(plan.data, limit, location);
  let output: Buffer;
  try {
    output = lz4.decompressFrameSync(asBuffer(plan.data));
  } catch (error) {
    throw decompressionFailed('lz4', error, location);
  }
  return checked(output, limit, location);
}

export async function lz4Decompress(
  data: Uint8Array,
  limit: number,
  location: ErrorLocation,
  options: Lz4DecodeOptions = {},
): Promise<Uint8Array> {
  const plan = route(data, limit, location, options);
  if (!plan.native) return decodeLz4FramesCapped(plan.data, limit, location);
  let output: Buffer;
  try {
    output = await lz4.decompressFrame(plan.data);
  } catch (error) {
    throw decompressionFailed('lz4', error, location);
  }
  return checked(output, limit, location);
}

// lz4_flex writes independent 64 KiB..4 MiB blocks without a content size, which Kafka's Java reader accepts.
export function lz4CompressSync(data: Uint8Array): Buffer {
  return lz4.compressFrameSync(asBuffer(data));
}

export function lz4Compress(data: Uint8Array): Promise<Buffer> {
  return lz4.compressFrame(data);
}
