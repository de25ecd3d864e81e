/**
 * A deliberately small Kafka wire client for the harness: enough to tell that a broker is ready
 * (ApiVersions, Metadata) and to prove that each listener and SASL mechanism works. Only
 * non-flexible request versions, one request in flight. Sluice's real codec lives in @sluice/protocol.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

export class ProbeError extends Error {
  override name = 'ProbeError';
}

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  /** Connect with TLS, verifying the broker's certificate and host name against `ca` (default: the system CAs). */
  readonly tls?: { readonly ca?: string | Buffer; readonly servername?: string };
  readonly timeoutMs?: number;
}

export interface ApiVersionRange {
  readonly min: number;
  readonly max: number;
}

export interface MetadataBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

export interface ClusterMetadata {
  readonly clusterId: string | null;
  readonly controllerId: number;
  readonly brokers: MetadataBroker[];
}

const API_METADATA = 3;
const API_SASL_HANDSHAKE = 17;
const API_API_VERSIONS = 18;
const API_SASL_AUTHENTICATE = 36;

class Out {
  readonly #chunks: Buffer[] = [];
  int8(value: number): this {
    const buffer = Buffer.alloc(1);
    buffer.writeInt8(value);
    this.#chunks.push(buffer);
    return this;
  }
  int16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    this.#chunks.push(buffer);
    return this;
  }
  int32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    this.#chunks.push(buffer);
    return this;
  }
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    this.#chunks.push(bytes);
    return this;
  }
  bytes(value: Buffer): this {
    this.int32(value.length);
    this.#chunks.push(value);
    return this;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

class In {
  #offset = 0;
  readonly buffer: Buffer;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }
  #need(count: number): void {
    if (this.#offset + count > this.buffer.length) {
      throw new ProbeError(`response truncated at byte ${this.#offset} (needed ${count} more)`);
    }
  }
  int8(): number {
    this.#need(1);
    return this.buffer.readInt8(this.#offset++);
  }
  int16(): number {
    this.#need(2);
    const value = this.buffer.readInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }
  int32(): number {
    this.#need(4);
    const value = this.buffer.readInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }
  int64(): bigint {
    this.#need(8);
    const value = this.buffer.readBigInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    this.#need(length);
    const value = this.buffer.toString('utf8', this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    this.#need(length);
    const value = this.buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
  array<T>(item: () => T): T[] {
    const count = this.int32();
    if (count < 0) return [];
    if (count > this.buffer.length - this.#offset) throw new ProbeError(`array count ${count} exceeds the response`);
    const items: T[] = [];
    for (let index = 0; index < count; index++) items.push(item());
    return items;
  }
}

/** One connection, one request at a time, non-flexible headers only (request header v1, response header v0). */
export class ProbeConnection {
  readonly #socket: Socket;
  #buffered: Buffer = Buffer.alloc(0);
  #correlationId = 0;
  #waiting: { resolve: (frame: Buffer) => void; reject: (error: Error) => void } | null = null;
  #failure: Error | null = null;
  readonly #timeoutMs: number;
  versions = new Map<number, ApiVersionRange>();

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error) => this.#fail(new ProbeError(`socket error: ${error.message}`)));
    socket.on('close', () => this.#fail(new ProbeError('connection closed by the broker')));
  }

  static async open(target: ProbeTarget): Promise<ProbeConnection> {
    const timeoutMs = target.timeoutMs ?? 5000;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const onError = (error: Error) => {
        socket.destroy();
        reject(new ProbeError(`cannot connect to ${target.host}:${target.port}: ${error.message}`));
      };
      const socket =
        target.tls === undefined
          ? connectTcp({ host: target.host, port: target.port }, () => resolve(socket))
          : connectTls(
              {
                host: target.host,
                port: target.port,
                ...(target.tls.ca === undefined ? {} : { ca: target.tls.ca }),
                // SNI takes host names only (RFC 6066); for an IP address Node checks the certificate against the IP.
                ...(target.tls.servername !== undefined || isIP(target.host) === 0
                  ? { servername: target.tls.servername ?? target.host }
                  : {}),
              },
              () => resolve(socket),
            );
      socket.setTimeout(timeoutMs, () => onError(new Error(`no connection within ${timeoutMs} ms`)));
      socket.once('error', onError);
    });
    socket.setTimeout(0);
    socket.removeAllListeners('error');
    const connection = new ProbeConnection(socket, timeoutMs);
    try {
      await connection.apiVersions();
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  close(): void {
    this.#socket.destroy();
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.reject(error);
  }

  #onData(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    if (this.#buffered.length < 4) return;
    const size = this.#buffered.readInt32BE(0);
    if (size < 4 || size > 64 * 1024 * 1024) {
      this.#fail(new ProbeError(`bad response frame size ${size}`));
      this.#socket.destroy();
      return;
    }
    if (this.#buffered.length < 4 + size) return;
    const frame = this.#buffered.subarray(4, 4 + size);
    this.#buffered = this.#buffered.subarray(4 + size);
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.resolve(frame);
  }

  /** Sends one request; resolves with the response body (after the correlation id). */
  async request(apiKey: number, apiVersion: number, body: Buffer): Promise<In> {
    if (this.#failure) throw this.#failure;
    if (this.#waiting) throw new ProbeError('one request at a time');
    const correlationId = ++this.#correlationId;
    const header = new Out().int16(apiKey).int16(apiVersion).int32(correlationId).string('sluice-harness').toBuffer();
    const size = Buffer.alloc(4);
    size.writeInt32BE(header.length + body.length);
    const frame = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = null;
        reject(new ProbeError(`no response to api ${apiKey} v${apiVersion} within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#waiting = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#socket.write(Buffer.concat([size, header, body]));
    });
    const input = new In(frame);
    const echoed = input.int32();
    if (echoed !== correlationId) throw new ProbeError(`correlation id ${echoed}, expected ${correlationId}`);
    return input;
  }

  /** ApiVersions v0: kept by every broker version for exactly this purpose. */
  async apiVersions(): Promise<Map<number, ApiVersionRange>> {
    const input = await this.request(API_API_VERSIONS, 0, Buffer.alloc(0));
    const errorCode = input.int16();
    if (errorCode !== 0) throw new ProbeError(`ApiVersions failed with error code ${errorCode}`);
    const versions = new Map<number, ApiVersionRange>();
    for (const entry of input.array(() => ({ key: input.int16(), min: input.int16(), max: input.int16() }))) {
      versions.set(entry.key, { min: entry.min, max: entry.max });
    }
    this.versions = versions;
    return versions;
  }

  /** Picks the highest version in [floor, ceiling] that the broker supports. */
  #pick(apiKey: number, floor: number, ceiling: number): number {
    const range = this.versions.get(apiKey);
    const version = range ? Math.min(range.max, ceiling) : -1;
    if (!range || version < Math.max(range.min, floor)) {
      throw new ProbeError(`broker supports no version of api ${apiKey} between v${floor} and v${ceiling}`);
    }
    return version;
  }

  /** Metadata (v4..v8, the non-flexible versions every broker since 2.1 supports) with no topics: the brokers. */
  async metadata(): Promise<ClusterMetadata> {
    const version = this.#pick(API_METADATA, 4, 8);
    const body = new Out().int32(0).int8(0);
    if (version >= 8) body.int8(0).int8(0); // include cluster/topic authorized operations: false
    const input = await this.request(API_METADATA, version, body.toBuffer());
    input.int32(); // throttle_time_ms
    const brokers = input.array(() => ({
      nodeId: input.int32(),
      host: input.string() ?? '',
      port: input.int32(),
      rack: input.string(),
    }));
    const clusterId = input.string();
    const controllerId = input.int32();
    return { clusterId, controllerId, brokers: brokers.sort((left, right) => left.nodeId - right.nodeId) };
  }

  /** SaslHandshake v1 then SaslAuthenticate (v0/v1) for PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. */
  async authenticate(mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512', username: string, password: string) {
    const handshakeVersion = this.#pick(API_SASL_HANDSHAKE, 1, 1);
    const handshake = await this.request(API_SASL_HANDSHAKE, handshakeVersion, new Out().string(mechanism).toBuffer());
    const handshakeError = handshake.int16();
    const enabled = handshake.array(() => handshake.string());
    if (handshakeError !== 0) {
      throw new ProbeError(
        `SaslHandshake refused ${mechanism} (error ${handshakeError}); enabled: ${enabled.join(', ')}`,
      );
    }
    const authenticateVersion = this.#pick(API_SASL_AUTHENTICATE, 0, 1);
    const exchange = async (token: Buffer): Promise<Buffer> => {
      const input = await this.request(API_SASL_AUTHENTICATE, authenticateVersion, new Out().bytes(token).toBuffer());
      const errorCode = input.int16();
      const errorMessage = input.string();
      const reply = input.bytes() ?? Buffer.alloc(0);
      if (errorCode !== 0)
        throw new ProbeError(`SASL ${mechanism} authentication failed (error ${errorCode}): ${errorMessage}`);
      return reply;
    };
    if (mechanism === 'PLAIN') {
      await exchange(Buffer.from(`\0${username}\0${password}`, 'utf8'));
      return;
    }
    await scram(mechanism, username, password, exchange);
  }
}

/** RFC 5802 SCRAM client: proves the password without sending it, and checks the server's signature. */
async function scram(
  mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512',
  username: string,
  password: string,
  exchange: (token: Buffer) => Promise<Buffer>,
): Promise<void> {
  const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  const keyLength = mechanism === 'SCRAM-SHA-256' ? 32 : 64;
  const clientNonce = randomBytes(18).toString('base64');
  const saslName = username.replaceAll('=', '=3D').replaceAll(',', '=2C');
  const clientFirstBare = `n=${saslName},r=${clientNonce}`;
  const serverFirst = (await exchange(Buffer.from(`n,,${clientFirstBare}`, 'utf8'))).toString('utf8');
  const fields = new Map(serverFirst.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const));
  const nonce = fields.get('r') ?? '';
  const salt = Buffer.from(fields.get('s') ?? '', 'base64');
  const iterations = Number(fields.get('i'));
  if (!nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length) {
    throw new ProbeError('SCRAM server nonce does not extend the client nonce');
  }
  if (!Number.isInteger(iterations) || iterations < 4096)
    throw new ProbeError(`SCRAM iteration count ${iterations} too low`);
  const saltedPassword = pbkdf2Sync(password, salt, iterations, keyLength, hash);
  const clientKey = createHmac(hash, saltedPassword).update('Client Key').digest();
  const storedKey = createHash(hash).update(clientKey).digest();
  const clientFinalWithoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
  const clientSignature = createHmac(hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let index = 0; index < proof.length; index++)
    proof[index] = (clientKey[index] ?? 0) ^ (clientSignature[index] ?? 0);
  const serverFinal = (
    await exchange(Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8'))
  ).toString('utf8');
  const serverKey = createHmac(hash, saltedPassword).update('Server Key').digest();
  const expected = createHmac(hash, serverKey).update(authMessage).digest('base64');
  if (serverFinal !== `v=${expected}`) throw new ProbeError('SCRAM server signature does not verify');
}

/** Opens a plaintext connection, asks Metadata, closes. */
export async function fetchMetadata(host: string, port: number, timeoutMs = 5000): Promise<ClusterMetadata> {
  const connection = await ProbeConnection.open({ host, port, timeoutMs });
  try {
    return await connection.metadata();
  } finally {
    connection.close();
  }
}
