/**
 * PD transfer figures of a run, from the decode nodes' /metrics scraped before and after it (the
 * difference, summed over decode nodes): rooms transferred, KV bytes, the exposed transfer time per
 * room (`pd_node_kv_transfer_exposed_ms`: end of prefill to last byte landed, what decode waits for)
 * as mean (exact: sum / count) and p50/p99 estimated from the histogram's buckets, and
 * `pd_node_kv_verify_failures_total` (pages that failed verification, exposed by engines whose page
 * contents can be checked) when a node has it. Null figures mean the metric is absent.
 */
import { histogramDelta, histogramOf, histogramQuantile, scrapeMetrics, sumOf, type Histogram, type Sample } from './prometheus-text.js';

export interface TransferFigures {
  decodeNodes: number;
  rooms: number | null;
  bytes: number | null;
  /** p50/p99 above the top finite bucket bound read as that bound: `overTopBucket` says how many were. */
  exposedMs: { mean: number | null; p50: number | null; p99: number | null; count: number; topBucketMs: number; overTopBucket: number } | null;
  verifyFailures: number | null;
}

const EXPOSED = 'pd_node_kv_transfer_exposed_ms';
const SCRAPE_TIMEOUT_MS = 5000;

/** Scrapes every decode node; a node that does not answer is left out (and so the figures are partial). */
export async function scrapeDecodeNodes(urls: readonly string[]): Promise<Sample[][]> {
  const all = await Promise.all(urls.map((u) => scrapeMetrics(u, SCRAPE_TIMEOUT_MS)));
  return all.filter((s): s is Sample[] => s !== null);
}

export function transferFigures(before: readonly Sample[][], after: readonly Sample[][]): TransferFigures {
  const b = before.flat();
  const a = after.flat();
  const counterDelta = (name: string): number | null => {
    const now = sumOf(a, name);
    return now === null ? null : now - (sumOf(b, name) ?? 0);
  };
  const hAfter = histogramOf(a, EXPOSED);
  const h = hAfter === null ? null : histogramDelta(hAfter, histogramOf(b, EXPOSED));
  return {
    decodeNodes: after.length,
    rooms: counterDelta('pd_node_kv_transfer_rooms_total'),
    bytes: counterDelta('pd_node_kv_transfer_bytes_total'),
    exposedMs: h === null ? null : { mean: h.count > 0 ? h.sum / h.count : null, p50: histogramQuantile(h, 0.5), p99: histogramQuantile(h, 0.99), count: h.count, ...overTop(h) },
    verifyFailures: counterDelta('pd_node_kv_verify_failures_total'),
  };
}

/** The highest finite bucket bound and how many observations lie above it. */
function overTop(h: Histogram): { topBucketMs: number; overTopBucket: number } {
  const top = h.bounds.length - (h.bounds[h.bounds.length - 1] === Infinity ? 2 : 1);
  return { topBucketMs: h.bounds[top], overTopBucket: h.cumulative[h.cumulative.length - 1] - (h.cumulative[top] ?? 0) };
}
