/**
 * `receive.buffer.bytes` and `send.buffer.bytes`: the kernel's SO_RCVBUF and SO_SNDBUF for a broker connection.
 *
 * Node has no API for them on TCP sockets, so they are set with `sockopt` (an optional dependency with prebuilt
 * N-API binaries) on the socket's file descriptor. Java's client sets them before connecting; Node creates the
 * descriptor and sends the SYN in one step, so here they are set as soon as the connection is up, before any
 * request (on Linux the receive window can still grow to the new size: the window scale chosen at the SYN follows
 * the system maximum, `net.ipv4.tcp_rmem`). -1 keeps the operating system's default (and, on Linux, its automatic
 * tuning). Where `sockopt` cannot load or the platform gives no descriptor, a value other than -1 cannot be applied:
 * Sluice warns once per process and goes on with the default.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

/** The warning code emitted (once per process) when a socket buffer size cannot be applied. */
export const SOCKET_BUFFER_UNSUPPORTED_WARNING = 'SLUICE_SOCKET_BUFFER_UNSUPPORTED';

/** -1: the operating system's default. */
export const USE_OS_DEFAULT = -1;

interface SockoptModule {
  getsockopt(socket: Socket, level: number, option: number): number;
  setsockopt(socket: Socket, level: number, option: number, value: number): void;
}

/** SOL_SOCKET, SO_SNDBUF, SO_RCVBUF: Linux's values, and the BSD values macOS and Windows share. */
const OPTIONS =
  process.platform === 'linux'
    ? { level: 1, send: 7, receive: 8 }
    : process.platform === 'darwin' || process.platform === 'freebsd' || process.platform === 'win32'
      ? { level: 0xffff, send: 0x1001, receive: 0x1002 }
      : null;

let sockopt: SockoptModule | null | undefined;
let warned = false;

function loadSockopt(): SockoptModule | null {
  if (sockopt === undefined) {
    try {
      sockopt = OPTIONS === null ? null : (createRequire(import.meta.url)('sockopt') as SockoptModule);
    } catch {
      sockopt = null;
    }
  }
  return sockopt;
}

/** Checks a `receive.buffer.bytes` / `send.buffer.bytes` value: -1 or a positive integer. */
export function checkSocketBufferBytes(name: string, value: number | undefined): number {
  if (value === undefined) return USE_OS_DEFAULT;
  if (!Number.isInteger(value) || (value < 1 && value !== USE_OS_DEFAULT) || value > 0x7fffffff) {
    throw new RangeError(`${name} must be -1 (the OS default) or a positive integer of bytes, got ${String(value)}`);
  }
  return value;
}

export interface SocketBufferSizes {
  /** SO_RCVBUF as the kernel reports it (Linux reports twice the size asked for: it counts its bookkeeping). */
  readonly receiveBufferBytes: number;
  /** SO_SNDBUF as the kernel reports it. */
  readonly sendBufferBytes: number;
}

/**
 * Sets SO_RCVBUF / SO_SNDBUF on a connected socket (each unless -1). Returns false, after one warning per process,
 * when they cannot be set here; throws nothing.
 */
export function applySocketBufferSizes(socket: Socket, receiveBufferBytes: number, sendBufferBytes: number): boolean {
  if (receiveBufferBytes === USE_OS_DEFAULT && sendBufferBytes === USE_OS_DEFAULT) return true;
  const module = loadSockopt();
  try {
    if (module === null || OPTIONS === null) throw new Error('the sockopt module is not available');
    if (receiveBufferBytes !== USE_OS_DEFAULT) {
      module.setsockopt(socket, OPTIONS.level, OPTIONS.receive, receiveBufferBytes);
    }
    if (sendBufferBytes !== USE_OS_DEFAULT) module.setsockopt(socket, OPTIONS.level, OPTIONS.send, sendBufferBytes);
    return true;
  } catch (error) {
    if (!warned) {
      warned = true;
      process.emitWarning(
        `receive.buffer.bytes / send.buffer.bytes cannot be applied on this platform (${(error as Error).message}); the operating system's defaults are used`,
        { code: SOCKET_BUFFER_UNSUPPORTED_WARNING },
      );
    }
    return false;
  }
}

/** The socket's SO_RCVBUF and SO_SNDBUF as the kernel reports them; null where they cannot be read. */
export function socketBufferSizes(socket: Socket): SocketBufferSizes | null {
  const module = loadSockopt();
  if (module === null || OPTIONS === null) return null;
  try {
    return {
      receiveBufferBytes: module.getsockopt(socket, OPTIONS.level, OPTIONS.receive),
      sendBufferBytes: module.getsockopt(socket, OPTIONS.level, OPTIONS.send),
    };
  } catch {
    return null;
  }
}
