/**
 * Request ids. A client may name its requests (`rid`: a string for one prompt, a list for a batch,
 * or a string for a batch, which names prompt i `${rid}_${i}` as SGLang does); otherwise each prompt
 * gets a fresh random 128-bit hex id (the shape of SGLang's uuid4().hex). Ids
 * must be unique among requests in flight on this server, because aborts and log lines address a
 * request by its id: a clash is the client's error (400), never a silent mix-up.
 */
import { randomBytes } from 'node:crypto';
import { HttpError } from './errors.js';

export function freshRid(): string {
  return randomBytes(16).toString('hex');
}

/** One id per prompt, from the client's `rid` or fresh. */
export function requestIds(given: string | string[] | undefined, count: number, batch: boolean): string[] {
  if (given === undefined) return Array.from({ length: count }, freshRid);
  if (!batch) {
    if (typeof given !== 'string') throw new HttpError(400, 'rid must be a string for a single prompt', 'rid');
    return [given];
  }
  if (typeof given === 'string') return Array.from({ length: count }, (_, i) => `${given}_${i}`);
  if (given.length !== count) {
    throw new HttpError(400, `rid must be a list with one id per prompt (${count})`, 'rid');
  }
  return given;
}

export class InFlightIds {
  private readonly ids = new Set<string>();

  /** Claims every id or none. */
  claim(rids: readonly string[]): void {
    const seen = new Set<string>();
    for (const rid of rids) {
      if (this.ids.has(rid) || seen.has(rid)) throw new HttpError(400, `rid "${rid}" is already in flight`, 'rid');
      seen.add(rid);
    }
    for (const rid of rids) this.ids.add(rid);
  }

  release(rid: string): void {
    this.ids.delete(rid);
  }
}
