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
}

export type Cell = CellResult | { readonly unavailable: string };

export interface Ratios {
  /** Sluice (CRC on) over the faster of KafkaJS and @platformatic/kafka, in records/s. */
  readonly sluiceOverBestPeer: number | null;
  readonly sluiceNoCrcOverBestPeer: number | null;
  /** Sluice over bare decompression of the same batches: 1 would be free decoding. */
  readonly sluiceOverBare: number | null;
  readonly sluiceNoCrcOverBare: number | null;
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

export function cellOf(nanoseconds: number, records: number, payloadBytes: number): CellResult {
  const seconds = nanoseconds / 1e9;
  return {
    recordsPerSecond: records / seconds,
    megabytesPerSecond: payloadBytes / 1e6 / seconds,
    milliseconds: nanoseconds / 1e6,
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
  const over = (top: number | null, bottom: number | null) => (top === null || bottom === null ? null : top / bottom);
  return {
    sluiceOverBestPeer: over(sluice, bestPeer),
    sluiceNoCrcOverBestPeer: over(sluiceNoCrc, bestPeer),
    sluiceOverBare: over(sluice, bare),
    sluiceNoCrcOverBare: over(sluiceNoCrc, bare),
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
  return ratio === null ? '-' : `${ratio.toFixed(2)}x`;
}

export interface Column {
  readonly id: string;
  readonly label: string;
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
    ];
  });
  const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index]!.length)));
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, index) => (index < 2 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, index) => (index < 2 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [render(header), rule, ...lines.map(render)].join('\n');
}
