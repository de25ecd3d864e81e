// Figures and tables of `pnpm bench:net`; the machine description and ratio format are shared with bench:decode.
export { formatRatio, type MachineInfo, machineInfo } from './report.ts';

/** Linear interpolation between the two nearest ranks of an ascending array. */
export function quantile(sorted: ArrayLike<number>, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * fraction;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

export interface Summary {
  /** Median over the samples: the headline. */
  readonly median: number;
  /** Best sample: what is left when other processes interfere least. */
  readonly best: number;
  /** Interquartile range over the median. */
  readonly spread: number;
  readonly samples: readonly number[];
}

/** Summarises rates (higher is better). */
export function summarise(rates: readonly number[]): Summary {
  const sorted = [...rates].sort((left, right) => left - right);
  const median = quantile(sorted, 0.5);
  return {
    median,
    best: sorted[sorted.length - 1]!,
    spread: (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / median,
    samples: rates.map((rate) => Math.round(rate * 100) / 100),
  };
}

export interface LatencyPercentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Percentiles in microseconds of one run's sorted latencies. */
export function percentiles(sorted: Float64Array): LatencyPercentiles {
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    p50: round(quantile(sorted, 0.5)),
    p90: round(quantile(sorted, 0.9)),
    p99: round(quantile(sorted, 0.99)),
    p999: round(quantile(sorted, 0.999)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

export function formatCount(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}

/** A Markdown table that also reads well in a terminal; the first column left-aligned, the others right-aligned. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, index) => Math.max(title.length, ...rows.map((row) => row[index]!.length)));
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, index) => (index === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [render(header), rule, ...rows.map(render)].join('\n');
}
