/**
 * The HTML report of pd-bench serve is one self-contained, well-formed file: the summary table, the
 * three latency CDFs with both runs overlaid, throughput and queue depth charts, and no reference
 * to anything outside the file (no URL, script, stylesheet link or src attribute).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunResult } from '../../bench/serve/bench-run.js';
import type { BenchTarget } from '../../bench/serve/deployment.js';
import { htmlReport } from '../../bench/serve/html-report.js';
import { runFigures, throughputSeries } from '../../bench/serve/run-metrics.js';
import type { RequestRecord } from '../../bench/serve/stream-client.js';
import { niceTicks, thinned } from '../../bench/serve/svg-chart.js';

function run(label: string, gapMs: number): RunResult {
  const records: RequestRecord[] = Array.from({ length: 20 }, (_, i) => {
    const tokenTimesMs = Array.from({ length: 10 }, (_, k) => i * 100 + 50 + k * gapMs);
    return { index: i, kind: 'random', outputLen: 10, scheduledMs: i * 100, sentMs: i * 100, tokenTimesMs, endMs: tokenTimesMs[9], promptTokens: 32, completionTokens: 10, finishReason: 'length', error: null };
  });
  const target: BenchTarget = {
    label,
    url: 'http://127.0.0.1:8000',
    kind: label === 'pd' ? 'router' : 'node',
    nodes: label === 'pd' ? [{ role: 'prefill', url: 'http://127.0.0.1:30000' }, { role: 'decode', url: 'http://127.0.0.1:30001' }] : [{ role: 'colocated', url: 'http://127.0.0.1:30002' }],
    model: { vocabSize: 512, contextLength: 2048, modelPath: '/models/tiny' },
    nodeArgs: ['--chunked-prefill-size=<2048>'],
    close: async () => {},
    logs: () => '',
  };
  const queue = target.nodes.flatMap((n) => [0, 250, 500].map((tMs) => ({ tMs, node: n.role, running: tMs / 250, waiting: 1 })));
  return { target, figures: runFigures(records, { ttftMs: 100, itlMs: 20 }), transfer: null, throughput: throughputSeries(records), queue, records, warmupFailed: 0 };
}

/** Tags nest properly (void and self-closed elements aside); returns the count of each opened tag. */
function checkNesting(html: string): Map<string, number> {
  const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
  const stack: string[] = [];
  const counts = new Map<string, number>();
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosed] = m;
    if (closing) {
      assert.equal(stack.pop(), name, `</${name}> closes the wrong element at offset ${m.index}`);
    } else {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (!selfClosed && !VOID.has(name)) stack.push(name);
    }
  }
  assert.deepEqual(stack, [], 'every element is closed');
  return counts;
}

describe('HTML report', () => {
  const description = { command: ['pd-bench', 'serve', '--url', 'https://example.com:1'], startedAt: '2025-01-01T00:00:00Z', dataset: { name: 'random' }, load: { requestRate: 'inf' }, fairness: 'same machine' };
  const html = htmlReport(description, [run('pd', 5), run('colocated', 40)]);

  test('is well-formed, with every chart and the summary table', () => {
    assert.match(html, /^<!DOCTYPE html>/);
    const counts = checkNesting(html);
    assert.equal(counts.get('svg'), 6, '3 CDFs, throughput, a queue chart per run');
    for (const title of ['TTFT CDF', 'Inter-token latency CDF (log scale)', 'E2E latency CDF', 'Output throughput', 'Queue depth over time: pd', 'Queue depth over time: colocated']) assert.ok(html.includes(title), title);
    assert.equal(counts.get('polyline'), 3 * 2 + 2 + 2 * 2 + 2, 'a line per run in each CDF and throughput, two per node in the queue charts');
    assert.match(html, /<th>pd \/ colocated<\/th>/);
    assert.match(html, /ITL p99 \(ms\)<\/td><td class="n">5\.00<\/td><td class="n">40\.00<\/td><td class="n">0\.125<\/td>/);
    assert.ok(html.includes('&lt;2048&gt;'), 'text from the run is escaped');
  });

  test('references nothing outside itself', () => {
    assert.doesNotMatch(html, /https?:/i);
    assert.doesNotMatch(html, /<script|<link|\bsrc=|\bhref=|@import|url\(/i);
    assert.ok(html.includes('127.0.0.1:30001'), 'node addresses are shown without their scheme');
  });
});

describe('chart helpers', () => {
  test('ticks are round numbers covering the range', () => {
    assert.deepEqual(niceTicks(0, 10), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(0.3, 0.92), [0.4, 0.6, 0.8]);
    assert.deepEqual(niceTicks(0, 1, 4), [0, 0.5, 1]);
  });

  test('thinning keeps at most the limit, with both ends', () => {
    const t = thinned(Array.from({ length: 1000 }, (_, i) => i), 11);
    assert.deepEqual(t, [0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999]);
    assert.deepEqual(thinned([1, 2], 11), [1, 2]);
  });
});
