import * as os from 'node:os';
import type { CompressionType } from '@sluice/protocol';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  readonly v8: string;
  /** 1, 5 and 15 minute load averages when the run started: the machine may be shared. */
  readonly loadAverage: readonly number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

export interface CellResult {
  readonly recordsPerSecond: number;
  /** Megabytes (10^6) of record keys and values per second. */
  readonly megabytesPerSecond: number;
  /** Milliseconds per Fetch response. */
  readonly milliseconds: number;
  /** CPU milliseconds per Fetch response, every thread of the process (event loop and libuv's pool). */
  readonly cpuMilliseconds: number;
}

export type Cell = CellResult | { readonly unavailable: string };

export interface Ratios {
  /** Sluice (CRC on) over the faster of KafkaJS and @platformatic/kafka, in records/s. */
  readonly sluiceOverBestPeer: number | null;
  readonly sluiceNoCrcOverBestPeer: number | null;
  /** Sluice over bare decompression (sync, one thread) of the same batches: 1 would be free decoding. */
  readonly sluiceOverBare: number | null;
  readonly sluiceNoCrcOverBare: number | null;
  /**
   * Sluice (pipelined, CRC on) over bare decompression (sync, one thread): the "within 10 %" target's ratio. The
   * codec's bare decompression speed is what one thread of the codec delivers; a consumer that decompresses off the
   * event loop while it walks records delivers records at this speed or better.
   */
  readonly pipelinedOverBare: number | null;
  /** Sluice (pipelined) over bare decompression pipelined the same way: the share of the pool's speed the walk keeps. */
  readonly pipelinedOverPipelinedBare: number | null;
}

/** The figures of one row under one statistic. */
export interface Figures {
  readonly cells: Record<string, Cell>;
  readonly ratios: Ratios;
}

export type Statistic = 'median' | 'best';

export interface RowResult {
  readonly recordSize: number;
  readonly compression: CompressionType;
  readonly records: number;
  readonly batches: number;
  readonly responseBytes: number;
  readonly payloadBytes: number;
  readonly recordsSectionBytes: number;
  /** Interquartile range over median of each decoder's samples. */
  readonly spread: Record<string, number>;
  /** From the median sample of each decoder: the headline. */
  readonly median: Figures;
  /** From the fastest sample of each decoder: what is left when other processes interfere least. */
  readonly best: Figures;
}

export function cellOf(nanoseconds: number, cpuNanoseconds: number, records: number, payloadBytes: number): CellResult {
  const seconds = nanoseconds / 1e9;
  return {
    recordsPerSecond: records / seconds,
    megabytesPerSecond: payloadBytes / 1e6 / seconds,
    milliseconds: nanoseconds / 1e6,
    cpuMilliseconds: cpuNanoseconds / 1e6,
  };
}

function rate(cell: Cell | undefined): number | null {
  return cell !== undefined && 'recordsPerSecond' in cell ? cell.recordsPerSecond : null;
}

export function ratiosOf(cells: Record<string, Cell>): Ratios {
  const sluice = rate(cells.sluice);
  const sluiceNoCrc = rate(cells.sluiceNoCrc);
  const peers = [rate(cells.kafkajs), rate(cells.platformatic)].filter((value) => value !== null);
  const bestPeer = peers.length === 0 ? null : Math.max(...peers);
  const bare = rate(cells.bare);
  const pipelined = rate(cells.sluicePipelined);
  const pipelinedBare = rate(cells.barePipelined);
  const over = (top: number | null, bottom: number | null) => (top === null || bottom === null ? null : top / bottom);
  return {
    sluiceOverBestPeer: over(sluice, bestPeer),
    sluiceNoCrcOverBestPeer: over(sluiceNoCrc, bestPeer),
    sluiceOverBare: over(sluice, bare),
    sluiceNoCrcOverBare: over(sluiceNoCrc, bare),
    pipelinedOverBare: over(pipelined, bare),
    pipelinedOverPipelinedBare: over(pipelined, pipelinedBare),
  };
}

function formatRate(cell: Cell | undefined): string {
  if (cell === undefined) return '-';
  if (!('recordsPerSecond' in cell)) return 'n/a';
  const records = cell.recordsPerSecond;
  const text = records >= 1e6 ? `${(records / 1e6).toFixed(2)} M` : `${(records / 1e3).toFixed(0)} k`;
  return `${text} (${cell.megabytesPerSecond.toFixed(0)} MB/s)`;
}

export function formatRatio(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? '-' : `${ratio.toFixed(2)}x`;
}

export interface Column {
  readonly id: string;
  readonly label: string;
}

function renderMarkdown(header: readonly string[], lines: readonly (readonly string[])[]): string {
  const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index]!.length)));
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, index) => (index < 2 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, index) => (index < 2 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [render(header), rule, ...lines.map(render)].join('\n');
}

/**
 * CPU milliseconds per response (every thread: event loop and pool) beside elapsed milliseconds, median samples,
 * compressed rows only: how much of the pipelined paths' speed comes from using more than one core.
 */
export function renderCpuTable(rows: readonly RowResult[], columns: readonly Column[]): string {
  const header = ['record', 'codec', ...columns.map((column) => `${column.label} CPU / elapsed ms`)];
  const lines = rows
    .filter((row) => row.compression !== 'none')
    .map((row) => [
      `${row.recordSize} B`,
      row.compression,
      ...columns.map((column) => {
        const cell = row.median.cells[column.id];
        if (cell === undefined) return '-';
        if (!('cpuMilliseconds' in cell)) return 'n/a';
        return `${cell.cpuMilliseconds.toFixed(1)} / ${cell.milliseconds.toFixed(1)}`;
      }),
    ]);
  return renderMarkdown(header, lines);
}

/** A Markdown table that also reads well in a terminal. */
export function renderTable(rows: readonly RowResult[], columns: readonly Column[], statistic: Statistic): string {
  const header = [
    'record',
    'codec',
    ...columns.map((column) => column.label),
    'Sluice / best peer',
    'no-CRC / best peer',
    'Sluice / bare',
    'no-CRC / bare',
    'pipelined / bare (target)',
    'pipelined / pipelined bare',
  ];
  const lines = rows.map((row) => {
    const figures = row[statistic];
    return [
      `${row.recordSize} B`,
      row.compression,
      ...columns.map((column) => formatRate(figures.cells[column.id])),
      formatRatio(figures.ratios.sluiceOverBestPeer),
      formatRatio(figures.ratios.sluiceNoCrcOverBestPeer),
      formatRatio(figures.ratios.sluiceOverBare),
      formatRatio(figures.ratios.sluiceNoCrcOverBare),
      formatRatio(figures.ratios.pipelinedOverBare),
      formatRatio(figures.ratios.pipelinedOverPipelinedBare),
    ];
  });
  return renderMarkdown(header, lines);
}
