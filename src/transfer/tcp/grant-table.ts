/**
 * The tcp receiver's grants: which writer may write which pages for which room. A write is taken only
 * if every page of every run is granted to its room, and the room to the writer of the connection it
 * came on; anything else is refused before a byte of it is copied.
 *
 * Decisions: keyed by the room's number (wire.ts roomNumber), so a room's decimal spelling does not
 * matter; pages as a Set per room (a write checks each of its pages once: cheap next to copying
 * them); dropping a writer drops its rooms, so a lost writer that comes back (a stopped process
 * resumed) finds nothing to write into.
 */
import { roomNumber } from './wire.js';

interface Grant {
  writer: string;
  pages: Set<number>;
}

export class GrantTable {
  private readonly grants = new Map<bigint, Grant>();

  grant(room: string, writer: string, pageIds: readonly number[]): void {
    this.grants.set(roomNumber(room), { writer: writer.toLowerCase(), pages: new Set(pageIds) });
  }

  drop(room: string): void {
    this.grants.delete(roomNumber(room));
  }

  dropWriter(writer: string): void {
    const w = writer.toLowerCase();
    for (const [room, g] of this.grants) if (g.writer === w) this.grants.delete(room);
  }

  /** Why `writer` may not write `room` at all, or null. */
  roomProblem(room: bigint, writer: string): string | null {
    const g = this.grants.get(room);
    if (!g) return `room ${room} has no grant (never granted, or released)`;
    if (g.writer !== writer) return `room ${room} is granted to another writer`;
    return null;
  }

  /** Why pages [dst, dst + count) are not all granted to `room` (checked with roomProblem first), or null. */
  runProblem(room: bigint, dst: number, count: number): string | null {
    const pages = this.grants.get(room)!.pages;
    for (let p = dst; p < dst + count; p++) if (!pages.has(p)) return `page ${p} is not granted to room ${room}`;
    return null;
  }
}
