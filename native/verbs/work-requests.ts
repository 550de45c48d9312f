/**
 * Work-request chains for `ibv_post_send` / `ibv_post_recv`, written into scratch memory.
 *
 * Decisions:
 * - Send requests are RDMA WRITEs (RDMA WRITE WITH IMM when `imm` is given): the only operations the
 *   KV transfer needs. One scatter/gather entry per request, since a coalesced page run is one
 *   contiguous byte range on both sides.
 * - Receive requests carry no buffer (`num_sge = 0`): they only exist to be consumed by an incoming
 *   WRITE WITH IMM, whose data goes to the remote address, not to the receive buffer.
 * - `wrId` is a JS safe integer (stored as the C uint64 `wr_id`) and comes back in the completion.
 * - Immediate data is a 32-bit value sent in network byte order (`__be32 imm_data`): written
 *   big-endian here and read big-endian by work-completions.ts, so both ends see the same number.
 * - Layout: requests back to back (each `next` points at the following one, the last at NULL), then
 *   the scatter/gather entries; every unused member is zero.
 */
import koffi from 'koffi';
import { SEND_FLAGS, WR_OPCODE } from './constants.js';
import type { Scratch } from './scratch.js';
import { IBV_RECV_WR, IBV_SEND_WR, IBV_SGE, offsetOf } from './types.js';

/** One RDMA WRITE of `length` bytes at `localAddr` (registered with `lkey`) to `remoteAddr` (`rkey`). */
export interface RdmaWrite {
  wrId: number;
  localAddr: bigint;
  length: number;
  lkey: number;
  remoteAddr: bigint;
  rkey: number;
  /** Present: WRITE WITH IMM carrying this uint32, which consumes one receive request at the peer. */
  imm?: number;
  /** Ask for a completion (selective signaling: unsignaled writes complete silently). */
  signaled?: boolean;
}

const SEND_WR_BYTES = koffi.sizeof(IBV_SEND_WR);
const RECV_WR_BYTES = koffi.sizeof(IBV_RECV_WR);
const SGE_BYTES = koffi.sizeof(IBV_SGE);

const SEND = {
  wrId: offsetOf(IBV_SEND_WR, 'wr_id'),
  next: offsetOf(IBV_SEND_WR, 'next'),
  sgList: offsetOf(IBV_SEND_WR, 'sg_list'),
  numSge: offsetOf(IBV_SEND_WR, 'num_sge'),
  opcode: offsetOf(IBV_SEND_WR, 'opcode'),
  sendFlags: offsetOf(IBV_SEND_WR, 'send_flags'),
  immData: offsetOf(IBV_SEND_WR, 'imm_data'),
  remoteAddr: offsetOf(IBV_SEND_WR, 'wr.rdma.remote_addr'),
  rkey: offsetOf(IBV_SEND_WR, 'wr.rdma.rkey'),
};
const RECV = {
  wrId: offsetOf(IBV_RECV_WR, 'wr_id'),
  next: offsetOf(IBV_RECV_WR, 'next'),
};
const SGE = {
  addr: offsetOf(IBV_SGE, 'addr'),
  length: offsetOf(IBV_SGE, 'length'),
  lkey: offsetOf(IBV_SGE, 'lkey'),
};

function setWrId(view: DataView, at: number, wrId: number): void {
  if (!Number.isSafeInteger(wrId) || wrId < 0) throw new RangeError(`wrId must be a non-negative safe integer (got ${wrId})`);
  view.setUint32(at, wrId % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(wrId / 2 ** 32), true);
}

/** Writes the chain for `writes` into `scratch`; returns the address of the first request. */
export function encodeWrites(scratch: Scratch, writes: readonly RdmaWrite[]): bigint {
  const n = writes.length;
  const sgeBase = n * SEND_WR_BYTES;
  scratch.ensure(sgeBase + n * SGE_BYTES);
  const { view, bytes, address } = scratch;
  bytes.fill(0, 0, sgeBase + n * SGE_BYTES);
  for (let i = 0; i < n; i++) {
    const w = writes[i];
    const at = i * SEND_WR_BYTES;
    const sge = sgeBase + i * SGE_BYTES;
    setWrId(view, at + SEND.wrId, w.wrId);
    if (i + 1 < n) view.setBigUint64(at + SEND.next, address + BigInt(at + SEND_WR_BYTES), true);
    view.setBigUint64(at + SEND.sgList, address + BigInt(sge), true);
    view.setInt32(at + SEND.numSge, 1, true);
    view.setInt32(at + SEND.opcode, w.imm === undefined ? WR_OPCODE.IBV_WR_RDMA_WRITE : WR_OPCODE.IBV_WR_RDMA_WRITE_WITH_IMM, true);
    view.setUint32(at + SEND.sendFlags, w.signaled ? SEND_FLAGS.IBV_SEND_SIGNALED : 0, true);
    if (w.imm !== undefined) view.setUint32(at + SEND.immData, w.imm, false);
    view.setBigUint64(at + SEND.remoteAddr, w.remoteAddr, true);
    view.setUint32(at + SEND.rkey, w.rkey, true);
    view.setBigUint64(sge + SGE.addr, w.localAddr, true);
    view.setUint32(sge + SGE.length, w.length, true);
    view.setUint32(sge + SGE.lkey, w.lkey, true);
  }
  return address;
}

/** Writes a chain of buffer-less receive requests with these ids; returns the first one's address. */
export function encodeReceives(scratch: Scratch, wrIds: readonly number[]): bigint {
  const n = wrIds.length;
  scratch.ensure(n * RECV_WR_BYTES);
  const { view, bytes, address } = scratch;
  bytes.fill(0, 0, n * RECV_WR_BYTES);
  for (let i = 0; i < n; i++) {
    const at = i * RECV_WR_BYTES;
    setWrId(view, at + RECV.wrId, wrIds[i]);
    if (i + 1 < n) view.setBigUint64(at + RECV.next, address + BigInt(at + RECV_WR_BYTES), true);
  }
  return address;
}

/** Index in the chain starting at `first` of the request at `bad` (what post_send/post_recv refused). */
export function refusedIndex(first: bigint, bad: bigint, kind: 'send' | 'recv'): number {
  return Number(bad - first) / (kind === 'send' ? SEND_WR_BYTES : RECV_WR_BYTES);
}
