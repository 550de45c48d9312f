/**
 * Decode side of PD, per room: Bootstrapping (queued for pages) -> WaitingForInput (pages reserved,
 * page list sent to prefill) -> Transferring (prefill writes into them; this CPU is not involved) ->
 * Success (the notice with the first token arrived: the sequence joins the decode batch) | Failed.
 *
 * The preallocation queue is FIFO and bounded in time: a room that cannot get pages within the
 * bootstrap timeout fails (never a queue stuck after memory runs out), and a room that got its
 * pages but no notice within the timeout fails too.
 *
 * Pages a prefill node may still be writing are never handed to another request: when a room fails
 * here (client abort, timeout) its pages are quarantined until prefill confirms the room is over
 * (its failure notice, sent only after its writes settled), the prefill node is declared dead, or
 * the transfer timeout has passed.
 */
import type { Logger } from '../../src/log/logger.js';
import type { KvAllocator } from '../allocator/kv-allocator.js';
import type { PdBootstrap, SchedulerOutbound } from '../protocol/scheduler.js';
import type { Sequence } from './sequence.js';

interface DecodeRoom {
  seq: Sequence;
  bootstrap: PdBootstrap;
  deadline: number;
  state: 'queued' | 'awaiting' | 'quarantined';
}

export interface DecodeRoomsDeps {
  allocator: KvAllocator;
  emit: (msg: SchedulerOutbound) => void;
  log: Logger;
  bootstrapTimeoutMs: number;
  transferTimeoutMs: number;
  /** The room failed here: answer the HTTP request with this error. */
  onFailed: (seq: Sequence, message: string, status: number) => void;
}

export function peerOf(b: PdBootstrap): string {
  return `${b.host}:${b.port}`;
}

export class DecodeRooms {
  private readonly rooms = new Map<string, DecodeRoom>();
  private readonly queue: string[] = [];

  constructor(private readonly deps: DecodeRoomsDeps) {}

  get size(): number {
    return this.rooms.size;
  }

  has(room: string): boolean {
    return this.rooms.has(room);
  }

  enqueue(seq: Sequence, bootstrap: PdBootstrap, now: number): void {
    this.rooms.set(bootstrap.room, { seq, bootstrap, deadline: now + this.deps.bootstrapTimeoutMs, state: 'queued' });
    this.queue.push(bootstrap.room);
  }

  /**
   * Reserves pages for queued rooms, oldest first, and asks their prefill nodes for the KV. Pages
   * cover the prompt and the first decode position.
   */
  preallocate(now: number): void {
    while (this.queue.length > 0) {
      const room = this.queue[0];
      const r = this.rooms.get(room)!;
      if (!this.deps.allocator.ensure(r.seq.rid, Math.min(r.seq.promptLen + 1, r.seq.maxTokens))) return;
      this.queue.shift();
      r.state = 'awaiting';
      r.deadline = now + this.deps.transferTimeoutMs + this.deps.bootstrapTimeoutMs;
      const pageIds = Array.from(this.deps.allocator.table(r.seq.rid));
      this.deps.emit({ type: 'kv_request', room, rid: r.seq.rid, bootstrap: r.bootstrap, pageIds });
    }
  }

  /** Prefill's notice: the KV is in place. Returns the sequence, ready to decode, or null. */
  arrived(room: string): Sequence | null {
    const r = this.rooms.get(room);
    if (!r || r.state !== 'awaiting') return null;
    this.rooms.delete(room);
    return r.seq;
  }

  /** Prefill failed the room (its writes are over): fail it, or end its quarantine. */
  failedByPeer(room: string, message: string): void {
    const r = this.rooms.get(room);
    if (!r) return;
    this.drop(room, r);
    if (r.state !== 'quarantined') this.deps.onFailed(r.seq, `prefill node failed the request: ${message}`, 502);
  }

  /** The room ends here (abort, error): tell prefill, and hold its pages until prefill is done. */
  abort(room: string, message: string, now: number): void {
    const r = this.rooms.get(room);
    if (!r || r.state === 'quarantined') return;
    if (r.state === 'queued') return this.drop(room, r);
    r.state = 'quarantined';
    r.deadline = now + this.deps.transferTimeoutMs;
    this.deps.emit({ type: 'room_failed_notice', room, bootstrap: r.bootstrap, message });
  }

  peerLost(peer: string, message: string): void {
    for (const [room, r] of this.rooms) {
      if (peerOf(r.bootstrap) !== peer || r.state === 'queued') continue;
      this.drop(room, r);
      if (r.state === 'awaiting') this.deps.onFailed(r.seq, message, 502);
    }
  }

  sweep(now: number): void {
    for (const [room, r] of this.rooms) {
      if (now <= r.deadline) continue;
      if (r.state === 'quarantined') {
        this.drop(room, r);
        continue;
      }
      const message = r.state === 'queued'
        ? `no KV pages became free on the decode node within ${this.deps.bootstrapTimeoutMs / 1000} s`
        : `prefill node did not deliver the KV cache within ${(this.deps.transferTimeoutMs + this.deps.bootstrapTimeoutMs) / 1000} s`;
      this.abort(room, message, now);
      this.deps.onFailed(r.seq, message, 504);
    }
  }

  private drop(room: string, r: DecodeRoom): void {
    this.rooms.delete(room);
    const q = this.queue.indexOf(room);
    if (q >= 0) this.queue.splice(q, 1);
    this.deps.allocator.release(r.seq.rid);
  }
}
