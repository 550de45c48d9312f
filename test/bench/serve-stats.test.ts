/**
 * pd-bench serve's arithmetic: percentiles, goodput, the figures of a run from its request records,
 * and reading Prometheus text (histogram quantiles as histogram_quantile estimates them).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { goodput, meetsSlo } from '../../bench/serve/goodput.js';
import { distribution, quantileOfSorted } from '../../bench/serve/percentiles.js';
import { histogramDelta, histogramOf, histogramQuantile, parseMetrics, sumOf } from '../../bench/serve/prometheus-text.js';
import { runFigures, throughputSeries } from '../../bench/serve/run-metrics.js';
import type { RequestRecord } from '../../bench/serve/stream-client.js';
import { transferFigures } from '../../bench/serve/transfer-figures.js';

function record(index: number, sentMs: number, tokenTimesMs: number[], extra: Partial<RequestRecord> = {}): RequestRecord {
  return { index, kind: 'random', outputLen: tokenTimesMs.length, scheduledMs: sentMs, sentMs, tokenTimesMs, endMs: tokenTimesMs.at(-1) ?? sentMs, promptTokens: 10, completionTokens: tokenTimesMs.length, finishReason: 'length', error: null, ...extra };
}

describe('percentiles', () => {
  test('interpolate linearly between closest ranks (numpy default)', () => {
    assert.equal(quantileOfSorted([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantileOfSorted([10], 0.99), 10);
    const d = distribution(Array.from({ length: 101 }, (_, i) => 100 - i))!;
    assert.deepEqual([d.count, d.min, d.p50, d.p90, d.p99, d.max, d.mean], [101, 0, 50, 90, 99, 100, 50]);
  });

  test('sort numerically, not as strings, and give nothing for an empty sample', () => {
    assert.equal(distribution([10, 9, 100, 2])!.p50, 9.5);
    assert.equal(distribution([]), null);
  });
});

describe('goodput', () => {
  test('a request counts only if it meets every SLO given; the worst gap is what --slo-itl-ms checks', () => {
    const reqs = [
      { ttftMs: 50, maxItlMs: 5 },
      { ttftMs: 150, maxItlMs: 5 },
      { ttftMs: 50, maxItlMs: 25 },
    ];
    assert.deepEqual(goodput(reqs, 2, { ttftMs: 100, itlMs: 20 }), { sloTtftMs: 100, sloItlMs: 20, requests: 1, requestsPerSecond: 0.5, fraction: 1 / 3 });
    assert.equal(goodput(reqs, 2, { ttftMs: 100, itlMs: null })!.requests, 2);
    assert.equal(goodput(reqs, 2, { ttftMs: null, itlMs: 20 })!.requests, 2);
    assert.equal(goodput(reqs, 2, { ttftMs: null, itlMs: null }), null);
    assert.equal(meetsSlo({ ttftMs: 100, maxItlMs: 20 }, { ttftMs: 100, itlMs: 20 }), true, 'the bounds are inclusive');
  });
});

describe('run figures', () => {
  test('TTFT, pooled ITL, TPOT, E2E, throughputs, errors and length mismatches from records', () => {
    const records = [
      record(0, 0, [100, 110, 130]), // ttft 100, gaps 10 20, tpot 15, e2e 130
      record(1, 500, [700, 700, 760]), // ttft 200, gaps 0 60, tpot 30, e2e 260
      record(2, 900, [1000], { outputLen: 4 }), // one token of 4 asked: a mismatch, no TPOT
      record(3, 900, [], { error: 'HTTP 503: overloaded', endMs: 2000 }),
    ];
    const f = runFigures(records, { ttftMs: 150, itlMs: 30 });
    assert.deepEqual([f.requested, f.completed, f.failed, f.lengthMismatches], [4, 3, 1, 1]);
    assert.equal(f.durationS, 2);
    assert.equal(f.requestsPerS, 1.5);
    assert.equal(f.outputTokensPerS, 3.5);
    assert.equal(f.inputTokensPerS, 15);
    assert.deepEqual([f.ttftMs!.count, f.ttftMs!.p50, f.ttftMs!.max], [3, 100, 200]);
    assert.deepEqual([f.itlMs!.count, f.itlMs!.min, f.itlMs!.max, f.itlMs!.mean], [4, 0, 60, 22.5]);
    assert.deepEqual([f.tpotMs!.count, f.tpotMs!.mean], [2, 22.5]);
    assert.deepEqual([f.e2eMs!.min, f.e2eMs!.max], [100, 260]);
    assert.equal(f.goodput!.requests, 2, 'request 1 misses both SLOs; 0 and 2 meet them');
    assert.deepEqual(f.errors, [{ message: 'HTTP 503: overloaded', count: 1 }]);
  });

  test('throughput over time counts output tokens per 1 s bucket, failed requests left out', () => {
    const series = throughputSeries([record(0, 0, [100, 900, 1500, 2999]), record(1, 0, [2500], { error: 'broken' })]);
    assert.deepEqual(series, [
      { tS: 0, outputTokensPerS: 2 },
      { tS: 1, outputTokensPerS: 1 },
      { tS: 2, outputTokensPerS: 1 },
    ]);
  });
});

describe('Prometheus text', () => {
  const text = (n: number, sum: number, buckets: number[]): string =>
    [
      '# HELP pd_node_kv_transfer_exposed_ms Per room.',
      '# TYPE pd_node_kv_transfer_exposed_ms histogram',
      ...[1, 10, 100].map((le, i) => `pd_node_kv_transfer_exposed_ms_bucket{le="${le}",model_name="m"} ${buckets[i]}`),
      `pd_node_kv_transfer_exposed_ms_bucket{le="+Inf",model_name="m"} ${n}`,
      `pd_node_kv_transfer_exposed_ms_sum{model_name="m"} ${sum}`,
      `pd_node_kv_transfer_exposed_ms_count{model_name="m"} ${n}`,
      `pd_node_num_running_reqs{model_name="m"} 3`,
    ].join('\n');

  test('reads samples and labels, sums series, and says when a metric is absent', () => {
    const s = parseMetrics(text(4, 40, [1, 2, 4]));
    assert.equal(sumOf(s, 'pd_node_num_running_reqs'), 3);
    assert.equal(sumOf(s, 'pd_node_kv_verify_failures_total'), null);
    assert.equal(s.find((x) => x.name.endsWith('_bucket'))!.labels.model_name, 'm');
  });

  test('histogram quantiles interpolate inside the bucket of the rank, on the difference of two scrapes', () => {
    const before = histogramOf(parseMetrics(text(2, 5, [1, 2, 2])), 'pd_node_kv_transfer_exposed_ms');
    const after = histogramOf(parseMetrics(text(12, 305, [1, 2, 12])), 'pd_node_kv_transfer_exposed_ms')!;
    const h = histogramDelta(after, before); // 10 new observations, all in (10, 100]
    assert.deepEqual([h.count, h.sum], [10, 300]);
    assert.equal(histogramQuantile(h, 0.5), 55);
    assert.equal(histogramQuantile(h, 1), 100);
    const inInf = histogramOf(parseMetrics(text(5, 5000, [0, 0, 0])), 'pd_node_kv_transfer_exposed_ms')!;
    assert.equal(histogramQuantile(inInf, 0.5), 100, 'the +Inf bucket gives the highest finite bound');
    assert.equal(histogramQuantile(histogramDelta(after, after), 0.5), null, 'no observation, no quantile');
  });

  test('transfer figures of a run: counter and histogram differences, over-the-top count, absent counters null', () => {
    const scrape = (rooms: number, exposed: string): string => `pd_node_kv_transfer_rooms_total{model_name="m"} ${rooms}\npd_node_kv_transfer_bytes_total{model_name="m"} ${rooms * 1000}\n${exposed}`;
    const before = [parseMetrics(scrape(2, text(2, 5, [1, 2, 2])))];
    const after = [parseMetrics(scrape(7, text(7, 1005, [1, 2, 4])))];
    const f = transferFigures(before, after);
    assert.deepEqual(f, { decodeNodes: 1, rooms: 5, bytes: 5000, exposedMs: { mean: 200, p50: 100, p99: 100, count: 5, topBucketMs: 100, overTopBucket: 3 }, verifyFailures: null });
    const withFailures = transferFigures(before, [parseMetrics(`${scrape(7, '')}\npd_node_kv_verify_failures_total 0`)]);
    assert.equal(withFailures.verifyFailures, 0);
    assert.equal(withFailures.exposedMs, null);
  });
});
