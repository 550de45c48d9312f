/**
 * The control protocol between the two processes of `pd-bench transfer`: the sending process (which
 * runs the benchmark) asks, the receiving process answers each request with exactly one reply, in
 * order, as JSON lines over one TCP connection (so the receiver may run on another host).
 * Bulk bytes never travel here: pages go through the transfer backend, baseline bytes through their
 * own socket.
 */
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';
import type { LoopDelay } from '../stats.js';
import type { IbWriteBwRun } from './ib-write-bw.js';

/**
 * The benchmark's one room and writer: the receiver grants the whole pool to them at `prepare`
 * (a decode node grants page lists per room; the bench measures the data path, not that).
 */
export const BENCH_ROOM = '1';
export const BENCH_WRITER = '0123456789abcdef0123456789abcdef';

/** A page range of the receiver's pool (one destination slot). */
export interface PageRange {
  start: number;
  count: number;
}

export type ControlRequest =
  /** Build a pool of `numPages` x `pageBytes` (shm: in shared memory), start a transfer actor on it, listen. */
  | { type: 'prepare'; backend: string; pageBytes: number; numPages: number }
  /** Zero the pool (before a row, so bytes left by another row cannot pass the check). */
  | { type: 'zero' }
  /** Main-thread event-loop delay: recorded from start to stop, except while paused. */
  | { type: 'loop_start' }
  | { type: 'loop_pause' }
  | { type: 'loop_resume' }
  | { type: 'loop_stop' }
  /** SHA-256 of each range's bytes, in order. */
  | { type: 'digest'; ranges: PageRange[] }
  /** Dial the sender's plain socket at host:port and sink its `size`-byte pieces (tcp baseline, plain-socket.ts). */
  | { type: 'sink'; host: string; port: number; size: number }
  /** Start a one-shot `iperf3 -s` if iperf3 is on PATH. */
  | { type: 'iperf3' }
  /** Start a one-shot `ib_write_bw` server if perftest and an RDMA device are there. */
  | { type: 'ib_write_bw'; run: IbWriteBwRun }
  /** Stop the actor and free the pool (also done when the session closes). */
  | { type: 'release' };

export type ControlReply =
  /** `settings`: the backend's settings on the receiving side (the flags it was started with). */
  | { type: 'prepared'; endpoint: KvEndpoint; settings: unknown }
  | { type: 'zeroed' }
  | { type: 'loop_started' }
  | { type: 'loop_paused' }
  | { type: 'loop_resumed' }
  | { type: 'loop_stopped'; loop: LoopDelay }
  | { type: 'digests'; digests: string[] }
  | { type: 'sink_dialed' }
  | { type: 'iperf3_listening'; port: number }
  | { type: 'iperf3_missing' }
  | { type: 'ib_write_bw_listening'; port: number }
  | { type: 'ib_write_bw_missing' }
  | { type: 'released' }
  | { type: 'error'; message: string };

/** The success reply of each request. */
export const REPLY_TO = {
  prepare: ['prepared'],
  zero: ['zeroed'],
  loop_start: ['loop_started'],
  loop_pause: ['loop_paused'],
  loop_resume: ['loop_resumed'],
  loop_stop: ['loop_stopped'],
  digest: ['digests'],
  sink: ['sink_dialed'],
  iperf3: ['iperf3_listening', 'iperf3_missing'],
  ib_write_bw: ['ib_write_bw_listening', 'ib_write_bw_missing'],
  release: ['released'],
} as const satisfies Record<ControlRequest['type'], readonly ControlReply['type'][]>;

export type ReplyOf<K extends ControlRequest['type']> = Extract<ControlReply, { type: (typeof REPLY_TO)[K][number] }>;
