/**
 * The text report of `pd-bench transfer`: what ran where, then one line per row (columns are
 * explained in bench/README.md), then the memcpy, iperf3 and ib_write_bw references when they ran.
 */
import { formatBytes } from '../bench-flags.js';
import { formatMachine } from '../machine.js';
import { fixed, formatTable } from '../table.js';
import type { TransferBenchResult } from './transfer-run.js';

const HEADER = ['backend', 'pattern', 'size', 'runs/write', 'in flight', 'writes/s', 'GB/s', 'p50 ms', 'p99 ms', 'baseline', 'base GB/s', 'ratio', 'tx CPU us/write', 'copy to peer GB/s', 'loop p99 tx ms', 'loop p99 rx ms', 'verified'];

/** Each backend's settings on both sides, once per backend that ran. */
function settingsLines(r: TransferBenchResult): string {
  const seen = new Map(r.rows.map((row) => [row.backend, row.settings]));
  return [...seen].map(([backend, { sender, receiver }]) => `${backend} settings: sender ${JSON.stringify(sender)}, receiver ${JSON.stringify(receiver)}\n`).join('');
}

export function formatTransferReport(r: TransferBenchResult): string {
  const o = r.options;
  const head =
    `pd-bench transfer: ${o.pattern} pages of ${formatBytes(o.pageBytes)}, ${o.concurrency} writes in flight, ` +
    `${o.iterations === null ? `${o.durationS} s` : `${o.iterations} writes`} per row and per baseline in ${o.rounds} alternating rounds; GB/s = 1e9 B/s\n` +
    settingsLines(r) +
    formatMachine(r.machine) +
    (o.pinMain ? 'pinned (--pin-main on): main threads alone on one CPU, every other thread on the others; only the loop p99 columns compare with an unpinned run\n' : '');
  const rows = r.rows.map((row) => [
    row.backend,
    row.pattern,
    formatBytes(row.size),
    String(row.runsPerWrite),
    String(row.concurrency),
    fixed(row.writesPerSec, 0),
    fixed(row.gbps, 2),
    fixed(row.p50Ms, 3),
    fixed(row.p99Ms, 3),
    row.baseline,
    fixed(row.baselineGbps, 2),
    fixed(row.ratio, 2),
    fixed(row.txCpuUsPerWrite, 1),
    fixed(row.peerMappingGbps, 2),
    fixed(row.senderLoop.p99Ms, 2),
    fixed(row.receiverLoop.p99Ms, 2),
    `${row.verifiedSlots} slots`,
  ]);
  const iperf3 = r.iperf3Gbps === null ? '' : `iperf3 single stream between the same hosts: ${r.iperf3Gbps.toFixed(2)} GB/s\n`;
  const memcpy = r.rows
    .filter((row) => row.memcpyGbps !== null)
    .map((row) => `memcpy (libc) of the same runs between the baseline's buffers, ${formatBytes(row.size)}: ${row.memcpyGbps!.toFixed(2)} GB/s; ${row.backend} ${formatBytes(row.size)} writes / memcpy = ${(row.gbps / row.memcpyGbps!).toFixed(2)}, Buffer.copy / memcpy = ${(row.baselineGbps / row.memcpyGbps!).toFixed(2)}\n`)
    .join('');
  const perftest = r.rows
    .filter((row) => row.ibWriteBwGbps !== null)
    .map((row) => `ib_write_bw (perftest, RC, ${formatBytes(row.size)} messages) between the same hosts: ${row.ibWriteBwGbps!.toFixed(3)} GB/s; verbs ${formatBytes(row.size)} writes / ib_write_bw = ${(row.gbps / row.ibWriteBwGbps!).toFixed(2)}\n`)
    .join('');
  return `${head}\n${formatTable(HEADER, rows)}${memcpy}${iperf3}${perftest}`;
}
