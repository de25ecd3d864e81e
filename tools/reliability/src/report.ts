/** The suite's results: one row per scenario, and the table `pnpm reliability` prints (Markdown, for RELIABILITY.md too). */
import type { CheckReport } from './checker.ts';

export interface Row {
  readonly name: string;
  readonly title: string;
  readonly guarantee: string;
  readonly durationMs: number;
  readonly violations: string[];
  readonly notes: string[];
  readonly report?: CheckReport;
}

const MiB = 1024 * 1024;

export function renderTable(rows: readonly Row[]): string {
  const header = [
    'scenario',
    'held',
    'acked',
    'consumed',
    'lost',
    'duplicates (explained)',
    'poll-skips',
    'non-monotonic',
    'rebalances',
    'recovery s',
    'peak RSS MiB',
    'time s',
  ];
  const lines = rows.map((row) => {
    const report = row.report;
    const figure = (value: number | undefined) => (value === undefined ? '-' : String(value));
    return [
      row.name,
      row.violations.length === 0 ? 'yes' : '**NO**',
      figure(report?.acknowledged),
      figure(report?.consumed),
      figure(report?.lost),
      report === undefined ? '-' : `${report.duplicates} (${report.duplicates - report.unexplainedDuplicates})`,
      figure(report?.skips),
      figure(report?.backwards),
      figure(report?.rebalances),
      report?.recoveryMs == null ? '-' : (report.recoveryMs / 1000).toFixed(1),
      report === undefined || report.peakRssBytes === 0 ? '-' : (report.peakRssBytes / MiB).toFixed(0),
      (row.durationMs / 1000).toFixed(0),
    ];
  });
  const render = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [render(header), render(header.map(() => '---')), ...lines.map(render)].join('\n');
}
