/**
 * The completion notice of each prefill room, sent from the transfer actor itself: the scheduler
 * tags a room's writes with the room and, once it has issued the last one, ends the room with the
 * first token; the notice goes to the node's control plane (the main thread) the moment the room's
 * last write has landed.
 *
 * Decisions:
 * - Here, not on the scheduler's thread: the scheduler learns that a write landed only between
 *   forward steps, so a notice sent from there waits for the step in progress (seconds with long
 *   prompts on the reference engine, tens of ms at production shapes), and decode waits with it.
 * - The figures decode records (bytes, runs, write time; transfer time from the room's first write
 *   and exposed time from its first token, both to its last byte landed) are tallied here, where the
 *   writes land. The scheduler's instants come as wall-clock milliseconds (`wallNow`): each thread's
 *   `performance.now()` has its own origin.
 * - A room whose write failed gets no notice (`ended` says so; the scheduler fails the room, and
 *   tells decode, as before). A room ended without a notice (it failed on the scheduler's side) is
 *   forgotten once its writes settle. A room is tracked from its first write until then: no room
 *   outlives its writes.
 */
import { performance } from 'node:perf_hooks';
import type { FirstToken, KvDoneNotice } from '../scheduler/protocol.js';

/** Milliseconds since the epoch with sub-millisecond precision, comparable across threads. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** When (wallNow) the scheduler issued the room's first write, and sampled its first token. */
export interface RoomTimes {
  firstWriteAt: number;
  firstTokenAt: number;
}

interface Room {
  pending: number;
  failed: boolean;
  bytes: number;
  runs: number;
  writeMs: number;
  end: { peerId: string; first: FirstToken | null; times: RoomTimes; done: (sent: boolean) => void } | null;
}

export class RoomNotices {
  private readonly rooms = new Map<string, Room>();

  constructor(private readonly send: (notice: KvDoneNotice) => void) {}

  get size(): number {
    return this.rooms.size;
  }

  /** A write of `room` starts (called before anything is awaited, in request order). */
  writeStarted(room: string): void {
    this.record(room).pending++;
  }

  /** A write of `room` settled: `result` when it landed, null when it failed. */
  writeSettled(room: string, result: { bytes: number; runs: number; ms: number } | null): void {
    const r = this.rooms.get(room);
    if (!r) return;
    r.pending--;
    if (result) {
      r.bytes += result.bytes;
      r.runs += result.runs;
      r.writeMs += result.ms;
    } else {
      r.failed = true;
    }
    this.settle(room, r);
  }

  /**
   * The scheduler issued the room's last write: with `first`, send the notice once every write has
   * landed; with null, just forget the room. Resolves with whether the notice was sent.
   */
  end(room: string, peerId: string, first: FirstToken | null, times: RoomTimes): Promise<boolean> {
    return new Promise((done) => {
      const r = this.record(room);
      r.end = { peerId, first, times, done };
      this.settle(room, r);
    });
  }

  private record(room: string): Room {
    let r = this.rooms.get(room);
    if (!r) this.rooms.set(room, (r = { pending: 0, failed: false, bytes: 0, runs: 0, writeMs: 0, end: null }));
    return r;
  }

  private settle(room: string, r: Room): void {
    if (r.pending > 0 || !r.end) return;
    this.rooms.delete(room);
    const { peerId, first, times, done } = r.end;
    if (r.failed || !first) return done(false);
    const now = wallNow();
    this.send({ type: 'kv_done', room, peerId, first, bytes: r.bytes, runs: r.runs, transferMs: now - times.firstWriteAt, writeMs: r.writeMs, exposedMs: Math.max(0, now - times.firstTokenAt) });
    done(true);
  }
}
