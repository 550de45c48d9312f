/** The summary table as plain text for stdout: one column per run, plus the ratio when comparing. */
import { fixed } from '../table.js';
import type { RunResult } from './bench-run.js';
import { rowRatio, summaryRows } from './summary-rows.js';

export function summaryTable(runs: readonly RunResult[]): string {
  const rows = summaryRows(runs);
  const comparing = runs.length === 2;
  const header = ['', ...runs.map((r) => r.target.label), ...(comparing ? [`${runs[0].target.label} / ${runs[1].target.label}`] : [])];
  const body = rows.map((row) => [row.label, ...row.values.map((v) => fixed(v, row.digits)), ...(comparing ? [fixed(rowRatio(row), 3)] : [])]);
  const widths = header.map((_, c) => Math.max(...[header, ...body].map((line) => line[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
