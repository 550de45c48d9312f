/**
 * Prefill side of PD, per room: Bootstrapping (request here, decode's page list not yet) ->
 * WaitingForInput (page list here) -> Transferring (chunks written as they finish) -> Success
 * (every write landed: completion notice with the first token, pages freed) | Failed.
 *
 * The completion notice is sent by the transfer actor (`RoomWriter.endRoom`) the moment the room's
 * last write lands, not from here: this thread hears of landed writes only between forward steps,
 * and decode would wait for the step in progress.
 *
 * Pages are freed only when no write of the room is in flight: a write reads the source pages
 * asynchronously in the transfer actor, and pages handed to another request meanwhile would send
 * wrong bytes. For the same reason the failure notice to decode goes out only after in-flight writes
 * settle, so decode may free its pages as soon as it gets the notice.
 *
 * A decode's page list can arrive before the prefill request itself (they travel different paths):
 * it is parked, bounded in number and time, and dropped if no request claims it.
 *
 * Claimed and unclaimed rooms are bounded apart, so that strangers opening rooms on the HTTP port
 * cannot lock the router's requests out:
 * - An unclaimed room (request here, no page list yet) is not computed: it waits, holding no pages
 *   and no running slot, until a decode node claims it (`onClaimed` queues it for prefill; SGLang's
 *   bootstrap queue does the same). At most `maxUnclaimed` wait; one more evicts the oldest (answered
 *   503 + Retry-After). A router's room is claimed within a control round trip once its decode node
 *   has pages, so the rooms that sit unclaimed longest are the ones nobody will claim.
 * - Claimed rooms are bounded per decode node (`maxPerPeer`): a page list beyond it is refused
 *   (room_failed to decode, 503 + Retry-After to the request).
 * - A room that ends before it was claimed is remembered (bounded, for the bootstrap timeout), from
 *   either side: decode failed it before the request came (the request then fails at once), or this
 *   side failed it (cancelled, evicted, timed out) before decode's page list came (decode is then
 *   told at once, instead of holding its pages until its own timeout).
 *
 * Every promise a room starts has a handler from the start: a link that cannot be made fails the
 * rooms waiting on it (with the reason), never the scheduler thread (an unhandled rejection there
 * would take every other request down with it).
 */
import type { Logger } from '../../src/log/logger.js';
import { coalescePages, type KvEndpoint, type PageRun } from '../../src/transfer/kv-transfer.js';
import type { KvAllocator } from '../../src/kv/kv-allocator.js';
import { RETRY_AFTER_SECS, type FirstToken, type SchedulerOutbound } from './protocol.js';
import { wallNow } from '../transfer/room-notices.js';
import type { RoomWriter } from './room-writer.js';
import type { Sequence } from './sequence.js';

export interface RoomTarget {
  peerId: string;
  endpoint: KvEndpoint;
  pageIds: number[];
  /** The decode node's token for this node: the KV link presents it. */
  writer: string;
}

/** How a room fails: `tellDecode` false when decode is gone (lost peer), was told already, or never claimed the room. */
export interface FailOptions {
  tellDecode: boolean;
  /** The room was given up because this node is full: decode's client gets 503 + Retry-After too, not 502. */
  full?: boolean;
}

interface PrefillRoom {
  seq: Sequence;
  target: RoomTarget | null;
  deadline: number;
  connected: Promise<void> | null;
  /** Prompt pages already handed to the writer. */
  sentPages: number;
  inflight: number;
  /** The room's end was handed to the writer: resolves with whether decode got the notice. */
  ended: Promise<boolean> | null;
  first: FirstToken | null;
  failed: string | null;
  /** It failed because this node is full (FailOptions.full). */
  full: boolean;
  /** Whether decode is told if the room fails (not when decode itself is gone or was told already). */
  tellDecode: boolean;
  /** When (wallNow) the first write was issued, and when the first token was sampled. */
  firstWriteAt: number;
  completedAt: number;
}

export interface PrefillRoomsDeps {
  allocator: KvAllocator;
  writer: RoomWriter;
  emit: (msg: SchedulerOutbound) => void;
  log: Logger;
  pageSize: number;
  bootstrapTimeoutMs: number;
  transferTimeoutMs: number;
  maxParkedTargets: number;
  /** Rooms no decode node has claimed yet (they hold no pages); one more evicts the oldest. */
  maxUnclaimed: number;
  /** Claimed rooms per decode node. */
  maxPerPeer: number;
  /** Rooms remembered after they ended unclaimed (so the other side's late message is answered at once). */
  maxClosed: number;
  /** The one clock of deadlines and expiries (ms). */
  now: () => number;
  /** A decode node claimed the room: its prompt may be computed now. */
  onClaimed: (seq: Sequence) => void;
  /** The room failed here: answer the HTTP request with this error (pages are handled here). */
  onFailed: (seq: Sequence, message: string, status: number, retryAfterSecs?: number) => void;
}

export class PrefillRooms {
  private readonly rooms = new Map<string, PrefillRoom>();
  private readonly parked = new Map<string, { target: RoomTarget; expires: number }>();
  /** Rooms waiting for their page list, oldest first. */
  private readonly unclaimed = new Set<string>();
  private readonly claimedPerPeer = new Map<string, number>();
  /** Rooms that ended unclaimed, oldest first: why, whether decode ended it, and until when it is remembered. */
  private readonly closed = new Map<string, { message: string; byPeer: boolean; full: boolean; expires: number }>();

  constructor(private readonly deps: PrefillRoomsDeps) {}

  get size(): number {
    return this.rooms.size;
  }

  has(room: string): boolean {
    return this.rooms.has(room);
  }

  /** A request for `room` arrived; returns why it fails at once (decode failed the room already), or null. */
  track(seq: Sequence, room: string): string | null {
    const closed = this.closed.get(room);
    if (closed?.byPeer) {
      this.closed.delete(room);
      return closed.message;
    }
    const r: PrefillRoom = { seq, target: null, deadline: this.deps.now() + this.deps.bootstrapTimeoutMs, connected: null, sentPages: 0, inflight: 0, ended: null, first: null, failed: null, full: false, tellDecode: true, firstWriteAt: 0, completedAt: 0 };
    this.rooms.set(room, r);
    const parked = this.parked.get(room);
    if (parked) {
      this.parked.delete(room);
      this.setTarget(room, r, parked.target);
      return null;
    }
    if (this.unclaimed.size >= this.deps.maxUnclaimed) this.evictOldestUnclaimed();
    this.unclaimed.add(room);
    return null;
  }

  /** The decode node's page list for a room (kv_target). */
  target(room: string, target: RoomTarget): void {
    const r = this.rooms.get(room);
    if (r) return this.setTarget(room, r, target);
    const closed = this.closed.get(room);
    if (closed) {
      this.closed.delete(room);
      this.noticeToDecode(room, target.peerId, closed.message, closed.full);
      return;
    }
    if (this.parked.size >= this.deps.maxParkedTargets) {
      this.noticeToDecode(room, target.peerId, 'prefill node has too many rooms waiting for their request; retry', true);
      return;
    }
    this.parked.set(room, { target, expires: this.deps.now() + this.deps.bootstrapTimeoutMs });
  }

  /** After a forward step: write the pages that are complete now. */
  progress(room: string): void {
    const r = this.rooms.get(room);
    if (r) this.flush(room, r);
  }

  /** Prefill computed the whole prompt and sampled the first token. */
  complete(room: string, first: FirstToken): void {
    const r = this.rooms.get(room);
    if (!r) return;
    r.first = first;
    r.completedAt = wallNow();
    this.flush(room, r);
  }

  /** Fails a room from this side (abort, engine error, timeout) or because decode said so. */
  fail(room: string, message: string, { tellDecode, full = false }: FailOptions): void {
    const r = this.rooms.get(room);
    if (!r || r.failed) return;
    r.failed = message;
    r.full = full;
    this.deps.log.info({ rid: r.seq.rid, room, reason: message }, 'prefill room failed');
    r.tellDecode = tellDecode;
    this.settle(room, r);
  }

  /**
   * Decode failed the room. Decode holds the room's pages until this side answers (after its writes
   * settle), so an unknown room is answered at once, and a page list parked for it is dropped: a
   * late request must never write into pages decode has freed.
   */
  failedByPeer(room: string, peerId: string, message: string): void {
    const parked = this.parked.get(room);
    if (parked?.target.peerId === peerId) this.parked.delete(room);
    const r = this.rooms.get(room);
    if (r && !r.failed) return this.fail(room, message, { tellDecode: true });
    if (r) return;
    this.remember(room, message, true, false);
    this.noticeToDecode(room, peerId, 'room closed', false);
  }

  /**
   * The decode node stopped answering: its rooms fail (nobody to tell), and its KV link is closed so
   * that writes still in flight fail (and their rooms' pages come back) at once: after a partition
   * the decode side has cut its end, and a write whose bytes all left would otherwise wait for an
   * ACK until its timeout. A later page list from the peer connects afresh.
   */
  peerLost(peerId: string, message: string): void {
    for (const [room, r] of this.rooms) {
      if (r.target?.peerId !== peerId || r.failed) continue;
      this.fail(room, message, { tellDecode: false }); // nobody to tell
      this.deps.onFailed(r.seq, message, 502);
    }
    this.deps.writer.closePeer(peerId).catch((err: Error) => this.deps.log.warn({ peerId, err: err.message }, 'closing the KV link to a lost decode node failed'));
  }

  /** Fails rooms whose decode page list never came, and drops stale parked lists. */
  sweep(): void {
    const now = this.deps.now();
    for (const [room, r] of this.rooms) {
      if (r.target === null && !r.failed && now > r.deadline) {
        const message = `no decode node claimed bootstrap_room ${room} within ${this.deps.bootstrapTimeoutMs / 1000} s`;
        this.fail(room, message, { tellDecode: false });
        this.deps.onFailed(r.seq, message, 504);
      }
    }
    for (const [room, p] of this.parked) if (now > p.expires) this.parked.delete(room);
    for (const [room, c] of this.closed) {
      if (now <= c.expires) break; // oldest first: the rest expire later
      this.closed.delete(room);
    }
  }

  /** Makes room for one more unclaimed room: the one that waited longest goes (503, Retry-After). */
  private evictOldestUnclaimed(): void {
    const [room] = this.unclaimed;
    const r = this.rooms.get(room)!;
    const message = `prefill node is full: ${this.deps.maxUnclaimed} rooms wait for a decode node to claim them and bootstrap_room ${room} waited longest; retry`;
    this.fail(room, message, { tellDecode: false, full: true });
    this.deps.onFailed(r.seq, message, 503, RETRY_AFTER_SECS);
  }

  /** Remembers a room that ended before it was claimed, dropping the oldest beyond the bound. */
  private remember(room: string, message: string, byPeer: boolean, full: boolean): void {
    this.closed.delete(room); // re-inserted last: `sweep` relies on expiry order
    if (this.closed.size >= this.deps.maxClosed) this.closed.delete(this.closed.keys().next().value!);
    this.closed.set(room, { message, byPeer, full, expires: this.deps.now() + this.deps.bootstrapTimeoutMs });
  }

  private setTarget(room: string, r: PrefillRoom, target: RoomTarget): void {
    this.unclaimed.delete(room);
    const claimed = this.claimedPerPeer.get(target.peerId) ?? 0;
    if (claimed >= this.deps.maxPerPeer) {
      const message = `prefill node holds ${claimed} rooms for decode node ${target.peerId}, its bound; retry`;
      this.noticeToDecode(room, target.peerId, message, true);
      this.fail(room, message, { tellDecode: false, full: true }); // told above; no target is kept, so nothing of it is written
      this.deps.onFailed(r.seq, message, 503, RETRY_AFTER_SECS);
      return;
    }
    this.claimedPerPeer.set(target.peerId, claimed + 1);
    this.deps.onClaimed(r.seq);
    const needed = Math.ceil(r.seq.promptLen / this.deps.pageSize);
    if (target.pageIds.length < needed) {
      const message = `decode node reserved ${target.pageIds.length} pages for bootstrap_room ${room}, the prompt needs ${needed}`;
      r.target = target;
      this.fail(room, message, { tellDecode: true });
      this.deps.onFailed(r.seq, message, 500);
      return;
    }
    r.target = target;
    r.connected = this.deps.writer.connect(target.peerId, target.endpoint, target.writer);
    // Handled at once: the room's request may still be queued (no write chained on the link yet).
    r.connected.catch((err: Error) => {
      if (r.failed) return;
      const message = `KV transfer to decode node ${target.peerId} failed: cannot connect: ${err.message}`;
      this.fail(room, message, { tellDecode: true });
      this.deps.onFailed(r.seq, message, 502);
    });
    this.flush(room, r);
  }

  /**
   * Issues writes for pages that are complete (all pages, once the first token exists); after the
   * last one, hands the room's end (and first token) to the writer.
   */
  private flush(room: string, r: PrefillRoom): void {
    if (!r.target || r.failed) return;
    const done = r.first ? Math.ceil(r.seq.promptLen / this.deps.pageSize) : Math.floor(r.seq.computed / this.deps.pageSize);
    if (done > r.sentPages) {
      const src = this.deps.allocator.table(r.seq.rid).slice(r.sentPages, done);
      const runs = coalescePages(src, r.target.pageIds.slice(r.sentPages, done));
      r.sentPages = done;
      this.write(room, r, runs);
    }
    if (!r.first) return;
    r.ended ??= this.end(room, r, r.first);
    if (r.inflight === 0) this.succeed(room, r);
  }

  /** Posted after the room's writes (reactions on `connected` run in order), so the writer counts them all. */
  private end(room: string, r: PrefillRoom, first: FirstToken | null): Promise<boolean> {
    const peerId = r.target!.peerId;
    const times = { firstWriteAt: r.firstWriteAt, firstTokenAt: r.completedAt };
    return r.connected!.then(() => this.deps.writer.endRoom(room, peerId, first, times, this.deps.transferTimeoutMs)).catch(() => false);
  }

  private write(room: string, r: PrefillRoom, runs: PageRun[]): void {
    const target = r.target!;
    r.inflight++;
    if (r.firstWriteAt === 0) r.firstWriteAt = wallNow();
    r.connected!
      .then(() => this.deps.writer.write(target.peerId, target.writer, runs, this.deps.transferTimeoutMs, room))
      .catch((err: Error) => {
        if (r.failed) return;
        const message = `KV transfer to decode node failed: ${err.message}`;
        this.fail(room, message, { tellDecode: true });
        this.deps.onFailed(r.seq, message, 502);
      })
      .finally(() => {
        r.inflight--;
        if (r.failed) this.settle(room, r);
        else this.flush(room, r);
      });
  }

  /** The room leaves: its pages are free, and it no longer counts against any bound. */
  private leave(room: string, r: PrefillRoom): void {
    this.rooms.delete(room);
    this.unclaimed.delete(room);
    this.deps.allocator.release(r.seq.rid);
    const peer = r.target?.peerId;
    if (peer === undefined) return;
    const claimed = this.claimedPerPeer.get(peer)! - 1;
    if (claimed === 0) this.claimedPerPeer.delete(peer);
    else this.claimedPerPeer.set(peer, claimed);
  }

  /** Every write landed (the writer has sent, or is sending, the notice): the pages are free. */
  private succeed(room: string, r: PrefillRoom): void {
    this.leave(room, r);
    const now = wallNow();
    this.deps.log.debug({ rid: r.seq.rid, room, transferMs: now - r.firstWriteAt, sinceFirstTokenMs: now - r.completedAt }, 'room transferred');
  }

  /** Tells decode node `peerId` the room failed; `full`: given up because this node is full (decode answers 503 + Retry-After). */
  private noticeToDecode(room: string, peerId: string, message: string, full: boolean): void {
    this.deps.emit({ type: 'room_failed_notice', room, peerId, message, ...(full && { retryAfterSecs: RETRY_AFTER_SECS }) });
  }

  /**
   * A failed room leaves once its writes are over: then pages are free and decode may be told,
   * unless the writer already sent decode the completion notice (every write had landed: decode
   * has the whole prompt, and this side's failure no longer matters to it).
   */
  private settle(room: string, r: PrefillRoom): void {
    if (r.inflight > 0) return;
    this.leave(room, r);
    const target = r.target;
    if (!target) return this.remember(room, r.failed ?? 'failed', false, r.full);
    const notified = r.ended ?? (r.sentPages > 0 ? this.end(room, r, null) : Promise.resolve(false));
    void notified.then((sent) => {
      if (!sent && r.tellDecode) this.noticeToDecode(room, target.peerId, r.failed ?? 'failed', r.full);
    });
  }
}
