/**
 * The `--html` report: ONE self-contained file (inline CSS, inline SVG from svg-chart.ts, no script,
 * no external reference of any kind) that opens offline in a browser. It shows what was run, the
 * summary table (the same rows as stdout), CDFs of TTFT, ITL (log scale: stalls sit decades above
 * the typical gap) and E2E latency with the runs overlaid, output throughput per 1 s bucket, and
 * the queue depth of every node over time (running solid, waiting dashed), then any errors.
 * URLs lose their scheme in the text (127.0.0.1:8000), so the file holds no http(s) reference.
 */
import { writeFileSync } from 'node:fs';
import { fixed } from '../table.js';
import type { RunResult } from './bench-run.js';
import type { RunDescription } from './json-results.js';
import { sortedCopy } from './percentiles.js';
import { isCompleted, pooledItlMs, requestLatencies } from './run-metrics.js';
import { rowRatio, summaryRows } from './summary-rows.js';
import { escapeXml, lineChart, thinned, type Series } from './svg-chart.js';

const RUN_COLORS = ['#1f5fa8', '#d9640f', '#2a8a3a', '#8a2a8a'];
const NODE_COLORS = ['#1f5fa8', '#d9640f', '#2a8a3a', '#8a2a8a', '#a83232', '#5a5a5a'];

const CSS = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1360px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f0f0}.charts{display:flex;flex-wrap:wrap;gap:12px}
svg.chart{border:1px solid #ddd;background:#fff;font-size:11px}svg .title{font-size:14px;font-weight:600}
svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}code{background:#f4f4f4;padding:1px 4px}`;

function withoutScheme(text: string): string {
  return text.replace(/\bhttps?:\/\//gi, '');
}

function text(value: unknown): string {
  return escapeXml(withoutScheme(String(value)));
}

/** Empirical CDF: the i-th smallest of n values at fraction (i + 1) / n. */
function cdfPoints(values: readonly number[]): [number, number][] {
  const sorted = sortedCopy(values);
  return thinned(Array.from(sorted, (v, i): [number, number] => [v, (i + 1) / sorted.length]));
}

function cdfChart(title: string, runs: readonly RunResult[], values: (run: RunResult) => number[], logX = false): string {
  const series: Series[] = runs.map((run, i) => ({ name: run.target.label, color: RUN_COLORS[i % RUN_COLORS.length], points: cdfPoints(values(run)) }));
  return lineChart({ title, xLabel: 'milliseconds', yLabel: 'fraction of samples', series, logX });
}

function queueChart(run: RunResult): string {
  const nodes = [...new Set(run.queue.map((s) => s.node))];
  const series: Series[] = nodes.flatMap((node, i) => {
    const color = NODE_COLORS[i % NODE_COLORS.length];
    const mine = run.queue.filter((s) => s.node === node);
    return [
      { name: `${node} running`, color, points: thinned(mine.map((s): [number, number] => [s.tMs / 1000, s.running])) },
      { name: `${node} waiting`, color, dashed: true, points: thinned(mine.map((s): [number, number] => [s.tMs / 1000, s.waiting])) },
    ];
  });
  return lineChart({ title: `Queue depth over time: ${run.target.label}`, xLabel: 'seconds since start', yLabel: 'requests', series });
}

function summaryTable(runs: readonly RunResult[]): string {
  const comparing = runs.length === 2;
  const head = `<tr><th></th>${runs.map((r) => `<th>${text(r.target.label)}</th>`).join('')}${comparing ? `<th>${text(runs[0].target.label)} / ${text(runs[1].target.label)}</th>` : ''}</tr>`;
  const body = summaryRows(runs)
    .map((row) => `<tr><td>${text(row.label)}</td>${row.values.map((v) => `<td class="n">${fixed(v, row.digits)}</td>`).join('')}${comparing ? `<td class="n">${fixed(rowRatio(row), 3)}</td>` : ''}</tr>`)
    .join('\n');
  return `<table>${head}\n${body}</table>`;
}

function keyValueTable(entries: Record<string, unknown>): string {
  return `<table>${Object.entries(entries)
    .map(([k, v]) => `<tr><th>${text(k)}</th><td>${text(typeof v === 'object' && v !== null ? JSON.stringify(v) : v)}</td></tr>`)
    .join('')}</table>`;
}

export function htmlReport(description: RunDescription, runs: readonly RunResult[]): string {
  const completed = (run: RunResult) => run.records.filter(isCompleted).map(requestLatencies);
  const targets = runs.map((run) => keyValueTable({ run: run.target.label, url: run.target.url, kind: run.target.kind, nodes: run.target.nodes.map((n) => `${n.role} ${withoutScheme(n.url)}`).join(', '), 'node flags': run.target.nodeArgs?.join(' ') ?? '(existing deployment)', model: run.target.model.modelPath }));
  const throughput: Series[] = runs.map((run, i) => ({ name: run.target.label, color: RUN_COLORS[i % RUN_COLORS.length], points: run.throughput.map((b): [number, number] => [b.tS, b.outputTokensPerS]) }));
  const errors = runs.flatMap((run) => run.figures.errors.map((e) => `<li>${text(run.target.label)}: ${e.count} x ${text(e.message)}</li>`));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pd-bench serve: ${text(runs.map((r) => r.target.label).join(' vs '))}</title><style>${CSS}</style></head>
<body>
<h1>pd-bench serve: ${text(runs.map((r) => r.target.label).join(' vs '))}</h1>
<p>Started ${text(description.startedAt)}. Command: <code>${text(description.command.join(' '))}</code></p>
${description.fairness ? `<p>${text(description.fairness)}</p>` : ''}
<h2>Setup</h2>
<div class="charts">${keyValueTable(description.dataset)}${keyValueTable(description.load)}${targets.join('')}</div>
<h2>Summary</h2>
${summaryTable(runs)}
<h2>Latency distributions</h2>
<div class="charts">
${cdfChart('TTFT CDF', runs, (run) => completed(run).map((l) => l.ttftMs))}
${cdfChart('Inter-token latency CDF (log scale)', runs, (run) => pooledItlMs(run.records), true)}
${cdfChart('E2E latency CDF', runs, (run) => completed(run).map((l) => l.e2eMs))}
</div>
<h2>Over time</h2>
<div class="charts">
${lineChart({ title: 'Output throughput (tokens per 1 s bucket)', xLabel: 'seconds since start', yLabel: 'tokens/s', series: throughput })}
${runs.map(queueChart).join('\n')}
</div>
${errors.length > 0 ? `<h2>Errors</h2><ul>${errors.join('')}</ul>` : ''}
</body></html>
`;
}

export function writeHtmlReport(file: string, description: RunDescription, runs: readonly RunResult[]): void {
  writeFileSync(file, htmlReport(description, runs));
}
