/**
 * The completions a device's poller worker hands to the transfer actor: a single-producer,
 * single-consumer ring in a SharedArrayBuffer, plus the poller's control word and counters.
 *
 * Decisions:
 * - A ring, not a message per completion: the poller writes four words per completion and publishes
 *   a batch with one store and one `Atomics.notify`; the consumer drains with no allocation and
 *   sleeps in `Atomics.waitAsync`, so its event loop keeps turning.
 * - Counters are int32 and wrap; only their difference is used (at most `capacity` apart).
 * - Never full in practice: the ring has as many slots as the device's CQ has entries, and the CQ
 *   can never hold more completions than the send queues it serves have outstanding, which are not
 *   released until the consumer has read their completions. The producer still checks for space
 *   (it waits for the consumer instead of overwriting).
 * - A slot is the completion's `wr_id` split in its high word (the lane: which queue pair's requests)
 *   and low word (the lane's request sequence), the status and the vendor error.
 */

/** Header words. */
const WRITTEN = 0;
const READ = 1;
const STOP = 2;
/** Events taken from the completion channel, and acknowledged (the owner acks the rest on stop). */
const EVENTS = 3;
const ACKED = 4;
/** Times the poller slept in poll(2) (armed, nothing to do). */
const SLEEPS = 5;
const HEADER_WORDS = 8;
const SLOT_WORDS = 4;

export interface PollerCounters {
  /** Completion-channel events the poller woke for. */
  events: number;
  acked: number;
  /** Times it blocked waiting for the channel (idle). */
  sleeps: number;
}

/** Called per completion: lane (wr_id >> 32), seq (wr_id & 0xffffffff), WC status, vendor error. */
export type CompletionSink = (lane: number, seq: number, status: number, vendorErr: number) => void;

export class CompletionRing {
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly slots: Uint32Array;
  private pending = 0;

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    this.slots = new Uint32Array(buffer, HEADER_WORDS * 4);
    this.capacity = this.slots.length / SLOT_WORDS;
  }

  /** A ring for at least `capacity` completions (a power of two, so slot indexes survive the counters' wrap). */
  static create(capacity: number): CompletionRing {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    return new CompletionRing(new SharedArrayBuffer((HEADER_WORDS + slots * SLOT_WORDS) * 4));
  }

  /** The same ring on another thread. */
  static attach(buffer: SharedArrayBuffer): CompletionRing {
    return new CompletionRing(buffer);
  }

  // ---- producer (the poller worker) ----

  /** Slots free for `push` before the next `publish`. */
  free(): number {
    return this.capacity - ((Atomics.load(this.header, WRITTEN) + this.pending - Atomics.load(this.header, READ)) | 0);
  }

  /** Stages one completion; `publish` makes staged ones visible. Check `free()` first. */
  push(lane: number, seq: number, status: number, vendorErr: number): void {
    const at = ((Atomics.load(this.header, WRITTEN) + this.pending) & (this.capacity - 1)) * SLOT_WORDS;
    this.slots[at] = lane;
    this.slots[at + 1] = seq;
    this.slots[at + 2] = status;
    this.slots[at + 3] = vendorErr;
    this.pending++;
  }

  /** Publishes the staged completions and wakes the consumer. */
  publish(): void {
    if (this.pending === 0) return;
    Atomics.add(this.header, WRITTEN, this.pending);
    this.pending = 0;
    Atomics.notify(this.header, WRITTEN);
  }

  /** Blocks the producer up to `timeoutMs` for the consumer to read (only when the ring is full). */
  waitForSpace(timeoutMs: number): void {
    Atomics.wait(this.header, READ, Atomics.load(this.header, READ), timeoutMs);
  }

  get stopRequested(): boolean {
    return Atomics.load(this.header, STOP) !== 0;
  }

  count(counter: 'events' | 'acked' | 'sleeps'): void {
    Atomics.add(this.header, counter === 'events' ? EVENTS : counter === 'acked' ? ACKED : SLEEPS, 1);
  }

  // ---- consumer (the transfer actor) ----

  /** Hands every published completion to `sink`, oldest first; returns how many. */
  drain(sink: CompletionSink): number {
    const written = Atomics.load(this.header, WRITTEN);
    let read = Atomics.load(this.header, READ);
    const n = (written - read) | 0;
    for (let i = 0; i < n; i++, read++) {
      const at = (read & (this.capacity - 1)) * SLOT_WORDS;
      sink(this.slots[at], this.slots[at + 1], this.slots[at + 2], this.slots[at + 3]);
    }
    if (n > 0) {
      Atomics.store(this.header, READ, read | 0);
      Atomics.notify(this.header, READ);
    }
    return n;
  }

  /** Resolves when completions may have been published since the last `drain` (or on `stop`). */
  async published(): Promise<void> {
    const read = Atomics.load(this.header, READ);
    const wait = Atomics.waitAsync(this.header, WRITTEN, read);
    if (wait.async) await wait.value;
  }

  /** Asks the producer to stop and wakes a consumer waiting in `published`. */
  requestStop(): void {
    Atomics.store(this.header, STOP, 1);
    Atomics.notify(this.header, WRITTEN);
  }

  counters(): PollerCounters {
    return { events: Atomics.load(this.header, EVENTS), acked: Atomics.load(this.header, ACKED), sleeps: Atomics.load(this.header, SLEEPS) };
  }
}
