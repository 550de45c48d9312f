/**
 * Decode side of PD, per room: Bootstrapping (queued for pages) -> Granting (pages reserved, the
 * receiver told which writer may fill them) -> WaitingForInput (page list sent to prefill) ->
 * Transferring (prefill writes into them; this CPU is not involved) -> Success (the notice with the
 * first token arrived: the sequence joins the decode batch) | Failed.
 *
 * The preallocation queue is FIFO and bounded in time: a room that cannot get pages within the
 * bootstrap timeout fails (never a queue stuck after memory runs out), and a room that got its
 * pages but no notice within the timeout fails too.
 *
 * The invariant: no byte of a room lands in pages another request owns. Hence:
 * - The page list goes out only once the receiver holds the room's grant (`RoomGrants.grant`
 *   resolved), with the writer token this node minted for the prefill peer (one per peer; a peer
 *   declared lost gets a new one, so its old links write nothing).
 * - Pages of a room that ends are freed only once the receiver says no byte of it can land any more:
 *   `release('confirmed')` after prefill's notice (kv_done, even one arriving after the room ended
 *   here, or its room_failed, sent after its writes settled); `release('unconfirmed')` on a local abort or timeout (tcp cuts a write under way and
 *   says true at once; shm and verbs say false, so the pages stay quarantined until prefill's
 *   confirmation); `cutWriter` when the peer is lost (retried on every sweep while it says false: a
 *   stopped shm writer is alive, and its pages stay quarantined, logged once). There is no "the
 *   transfer timeout passed" rule: late bytes are exactly what it would let in.
 * - A room aborted before its page list went out tells its prefill node at once (room_failed), so
 *   prefill frees its pages now instead of at its bootstrap timeout.
 * - At most `maxRoomsPerPeer` rooms with pages per prefill peer: a peer that never delivers cannot
 *   pin most of the pool. Rooms beyond it wait in the queue (a capacity wait, not a refusal: a
 *   burst through the router to one prefill node is normal), bounded by the bootstrap timeout; other
 *   peers' rooms go past them.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../src/log/logger.js';
import type { KvAllocator } from '../../src/kv/kv-allocator.js';
import { peerOf, type PdBootstrap, type SchedulerOutbound } from './protocol.js';
import type { Sequence } from './sequence.js';

/** What decode rooms need from the KV receiver (the transfer actor's client; KvReceiver semantics). */
export interface RoomGrants {
  grant(room: string, writer: string, pageIds: readonly number[]): Promise<void>;
  release(room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean>;
  cutWriter(writer: string): Promise<boolean>;
}

interface DecodeRoom {
  seq: Sequence;
  bootstrap: PdBootstrap;
  deadline: number;
  state: 'queued' | 'granting' | 'awaiting' | 'quarantined';
  /** The writer the room's pages were granted to (set when they were reserved). */
  writer: string | null;
}

export interface DecodeRoomsDeps {
  allocator: KvAllocator;
  grants: RoomGrants;
  emit: (msg: SchedulerOutbound) => void;
  log: Logger;
  bootstrapTimeoutMs: number;
  transferTimeoutMs: number;
  maxRoomsPerPeer: number;
  /** The scheduler's clock (ms): deadlines are read against it. */
  now: () => number;
  /** The room failed here: answer the HTTP request with this error (503s with Retry-After). */
  onFailed: (seq: Sequence, message: string, status: number, retryAfterSecs?: number) => void;
}

export class DecodeRooms {
  private readonly rooms = new Map<string, DecodeRoom>();
  private readonly queue: string[] = [];
  /** The writer token of each prefill peer. */
  private readonly writers = new Map<string, string>();
  /** Writers of lost peers whose bytes may still land (cutWriter said false, or is being asked). */
  private readonly uncut = new Map<string, { asking: boolean; logged: boolean }>();
  /** Scratch for `preallocate`: rooms with pages per prefill peer. */
  private readonly heldPerPeer = new Map<string, number>();

  constructor(private readonly deps: DecodeRoomsDeps) {}

  get size(): number {
    return this.rooms.size;
  }

  has(room: string): boolean {
    return this.rooms.has(room);
  }

  /** Queues a room for pages (it waits while its peer is at its cap, bounded by the bootstrap timeout). */
  enqueue(seq: Sequence, bootstrap: PdBootstrap): void {
    this.rooms.set(bootstrap.room, { seq, bootstrap, deadline: this.deps.now() + this.deps.bootstrapTimeoutMs, state: 'queued', writer: null });
    this.queue.push(bootstrap.room);
  }

  /**
   * Reserves pages for queued rooms, oldest first, grants them to the peer's writer and, once the
   * grant is in place, asks the prefill node for the KV. Pages cover the prompt and the first decode
   * position. A room whose peer already holds `maxRoomsPerPeer` rooms with pages is passed over (it
   * keeps its place); the first room that cannot get pages stops the pass, so pages go in order.
   */
  preallocate(): void {
    if (this.queue.length === 0) return;
    const held = this.heldPerPeer;
    held.clear();
    for (const r of this.rooms.values()) {
      if (r.state !== 'queued') held.set(peerOf(r.bootstrap), (held.get(peerOf(r.bootstrap)) ?? 0) + 1);
    }
    for (let i = 0; i < this.queue.length; ) {
      const room = this.queue[i];
      const r = this.rooms.get(room)!;
      const peer = peerOf(r.bootstrap);
      const peerHeld = held.get(peer) ?? 0;
      if (peerHeld >= this.deps.maxRoomsPerPeer) {
        i++;
        continue;
      }
      if (!this.deps.allocator.ensure(r.seq.rid, Math.min(r.seq.promptLen + 1, r.seq.maxTokens))) return;
      this.queue.splice(i, 1);
      held.set(peer, peerHeld + 1);
      r.state = 'granting';
      r.deadline = this.deps.now() + this.deps.transferTimeoutMs + this.deps.bootstrapTimeoutMs;
      r.writer = this.writerOf(peer);
      const pageIds = Array.from(this.deps.allocator.table(r.seq.rid));
      this.deps.grants.grant(room, r.writer, pageIds).then(
        () => this.granted(room, r, pageIds),
        (err: Error) => {
          if (this.rooms.get(room) !== r) return;
          this.deps.log.error({ rid: r.seq.rid, room, err: err.message }, 'KV grant failed');
          if (r.state === 'granting') this.deps.onFailed(r.seq, `decode node could not prepare its KV receiver: ${err.message}`, 500);
          this.quarantine(room, r);
          this.release(room, r, 'confirmed'); // no page list went out: nobody can be writing
        },
      );
    }
  }

  /**
   * Prefill's notice: the KV is in place. Returns the sequence, ready to decode, or null. A notice
   * for a quarantined room (it timed out or was aborted here while prefill's writes went on) is a
   * late completion: every write of the room landed and none follows, so it confirms the release
   * (prefill sends no failure notice after its completion notice, so nothing else would).
   */
  arrived(room: string): Sequence | null {
    const r = this.rooms.get(room);
    if (r?.state === 'quarantined') this.release(room, r, 'confirmed');
    if (!r || r.state !== 'awaiting') return null;
    this.rooms.delete(room);
    // The pages now belong to the sequence; the grant just ends.
    this.deps.grants.release(room, 'confirmed').catch((err: Error) => this.deps.log.warn({ room, err: err.message }, 'KV grant release failed'));
    return r.seq;
  }

  /** Prefill failed the room (its writes are over): fail it, or end its quarantine. */
  failedByPeer(room: string, message: string, retryAfterSecs?: number): void {
    const r = this.rooms.get(room);
    if (!r) return;
    // A prefill node that gave the room up because it is full is full, not broken: 503 + Retry-After.
    const status = retryAfterSecs === undefined ? 502 : 503;
    if (r.state === 'queued') {
      this.drop(room, r);
      return this.deps.onFailed(r.seq, `prefill node failed the request: ${message}`, status, retryAfterSecs);
    }
    if (r.state !== 'quarantined') this.deps.onFailed(r.seq, `prefill node failed the request: ${message}`, status, retryAfterSecs);
    const listSent = r.state !== 'granting';
    this.quarantine(room, r);
    if (listSent) this.release(room, r, 'confirmed');
  }

  /** The room ends here (abort, error): tell prefill, and hold its pages until no byte of it can land. */
  abort(room: string, message: string): void {
    const r = this.rooms.get(room);
    if (!r || r.state === 'quarantined') return;
    this.deps.emit({ type: 'room_failed_notice', room, bootstrap: r.bootstrap, message });
    if (r.state === 'queued') return this.drop(room, r);
    const listSent = r.state === 'awaiting';
    this.quarantine(room, r);
    if (listSent) this.release(room, r, 'unconfirmed');
  }

  /** The prefill peer stopped answering: its rooms fail; their pages are freed once its writer is cut. */
  peerLost(peer: string, message: string): void {
    const writer = this.writers.get(peer);
    this.writers.delete(peer); // the next room to this peer gets a new token, so a new link
    for (const [room, r] of this.rooms) {
      if (peerOf(r.bootstrap) !== peer || r.state === 'queued') continue;
      if (r.state !== 'quarantined') {
        this.deps.onFailed(r.seq, message, 502);
        // best effort: a peer that comes back frees the room now instead of at its bootstrap timeout
        this.deps.emit({ type: 'room_failed_notice', room, bootstrap: r.bootstrap, message });
      }
      this.quarantine(room, r);
    }
    if (writer !== undefined) {
      this.uncut.set(writer, { asking: false, logged: false });
      this.cut(writer);
    }
  }

  sweep(): void {
    const now = this.deps.now();
    for (const writer of this.uncut.keys()) this.cut(writer);
    for (const [room, r] of this.rooms) {
      if (now <= r.deadline || r.state === 'quarantined') continue;
      const message = r.state === 'queued'
        ? `no KV pages became free on the decode node within ${this.deps.bootstrapTimeoutMs / 1000} s (or prefill node ${peerOf(r.bootstrap)} kept ${this.deps.maxRoomsPerPeer} rooms in transfer)`
        : `prefill node did not deliver the KV cache within ${(this.deps.transferTimeoutMs + this.deps.bootstrapTimeoutMs) / 1000} s`;
      this.abort(room, message);
      this.deps.onFailed(r.seq, message, 504);
    }
  }

  private writerOf(peer: string): string {
    let writer = this.writers.get(peer);
    if (writer === undefined) {
      writer = randomBytes(16).toString('hex');
      this.writers.set(peer, writer);
    }
    return writer;
  }

  /** The grant is in place: send the page list, or, if the room ended meanwhile, release it (no list went out). */
  private granted(room: string, r: DecodeRoom, pageIds: number[]): void {
    if (this.rooms.get(room) !== r) return;
    if (r.state === 'quarantined') return this.release(room, r, 'confirmed');
    r.state = 'awaiting';
    this.deps.emit({ type: 'kv_request', room, rid: r.seq.rid, bootstrap: r.bootstrap, pageIds, writer: r.writer! });
  }

  private quarantine(room: string, r: DecodeRoom): void {
    r.state = 'quarantined';
    const q = this.queue.indexOf(room);
    if (q >= 0) this.queue.splice(q, 1);
  }

  /** Frees the room's pages once the receiver says nothing of it can land; else they stay quarantined. */
  private release(room: string, r: DecodeRoom, how: 'confirmed' | 'unconfirmed'): void {
    this.deps.grants.release(room, how).then(
      (done) => {
        if (done && this.rooms.get(room) === r) this.drop(room, r);
      },
      (err: Error) => this.deps.log.warn({ rid: r.seq.rid, room, err: err.message }, 'KV grant release failed: the pages stay quarantined'),
    );
  }

  /** Asks the receiver to cut a lost writer (one question at a time); true frees its quarantined rooms. */
  private cut(writer: string): void {
    const u = this.uncut.get(writer);
    if (!u || u.asking) return;
    u.asking = true;
    this.deps.grants.cutWriter(writer).then(
      (done) => {
        u.asking = false;
        if (!done) {
          if (!u.logged) this.deps.log.warn({ writer }, 'lost prefill writer may still write (alive or stopped): its rooms\' pages stay quarantined until it is cut or confirms');
          u.logged = true;
          return;
        }
        this.uncut.delete(writer);
        for (const [room, r] of this.rooms) if (r.writer === writer && r.state === 'quarantined') this.drop(room, r);
      },
      (err: Error) => {
        u.asking = false;
        this.deps.log.warn({ writer, err: err.message }, 'cutting a lost KV writer failed; retried on the next sweep');
      },
    );
  }

  private drop(room: string, r: DecodeRoom): void {
    this.rooms.delete(room);
    const q = this.queue.indexOf(room);
    if (q >= 0) this.queue.splice(q, 1);
    this.deps.allocator.release(r.seq.rid);
  }
}
