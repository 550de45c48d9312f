/**
 * One way to wait for replies: requests get ids, each waits for its reply within its own bound, and
 * all fail together when the other side is gone. Used by the actor clients (scheduler, transfer
 * actor) and by the registry client over ZeroMQ.
 *
 * Decisions:
 * - A request times out only if its reply has not arrived: when its timer fires, replies already
 *   queued are read first (`readQueued`, e.g. receiveMessageOnPort over a MessageChannel). A thread
 *   busy in one long step (a forward step on a loaded host) runs its timers before the messages
 *   queued meanwhile, so judging by the timer alone failed requests that had succeeded in a
 *   millisecond. Transports that cannot be read synchronously (a Worker's own port, a ZeroMQ socket)
 *   pass none.
 * - A send may be asynchronous (a ZeroMQ send waiting for its connection): the bound covers the
 *   send and the reply, one deadline; a send that fails fails its request with the send's error,
 *   and the reply's timer starts only once the send is done (so a send still pending at the
 *   deadline reports that, not a missing reply).
 * - A reply for an id no longer waiting (it timed out) is dropped: `settle` says whether it was taken.
 * - After `close(reason)` every waiting request and every later one fails with `reason`.
 * - Ids are safe integers counted from 1; they identify a request only while it waits.
 */
import { performance } from 'node:perf_hooks';

export class RequestReply<Reply> {
  private readonly waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void; timer: NodeJS.Timeout | null }>();
  private lastId = 0;
  private closed: string | null = null;

  constructor(
    /** Reads the replies already queued, settling them (before a request is judged timed out). */
    private readonly readQueued: () => void = () => {},
  ) {}

  /**
   * A new request: `send(id)` sends it; the promise settles with its reply, or rejects with
   * "`what` timed out after N s" when none came within `timeoutMs`, with the send's error, or with
   * the close reason.
   */
  request(what: string, timeoutMs: number, send: (id: number) => void | Promise<void>): Promise<Reply> {
    if (this.closed !== null) return Promise.reject(new Error(this.closed));
    const id = ++this.lastId;
    const deadline = performance.now() + timeoutMs;
    const reply = new Promise<Reply>((resolve, reject) => this.waiting.set(id, { resolve, reject, timer: null }));
    const arm = (): void => {
      const w = this.waiting.get(id);
      // Whole milliseconds, at least one: the time left of the deadline once the send is done.
      if (w) w.timer = setTimeout(() => this.expire(id, `${what} timed out after ${timeoutMs / 1000} s`), Math.max(1, Math.round(deadline - performance.now())));
    };
    try {
      const sent = send(id);
      if (sent instanceof Promise) sent.then(arm, (err: Error) => this.fail(id, err));
      else arm();
    } catch (err) {
      this.fail(id, err as Error);
    }
    return reply;
  }

  /** The reply to request `id`; false if no request `id` is waiting (it timed out, or never was). */
  settle(id: number, reply: Reply): boolean {
    const w = this.take(id);
    w?.resolve(reply);
    return w !== undefined;
  }

  /** Request `id` failed (the other side said so); false if it is not waiting. */
  fail(id: number, err: Error): boolean {
    const w = this.take(id);
    w?.reject(err);
    return w !== undefined;
  }

  /** Replies already queued still count; every other waiting request, and every later one, fails with `reason`. */
  close(reason: string): void {
    if (this.closed !== null) return;
    this.readQueued();
    this.closed = reason;
    for (const id of [...this.waiting.keys()]) this.fail(id, new Error(reason));
  }

  private expire(id: number, message: string): void {
    this.readQueued();
    this.fail(id, new Error(message));
  }

  private take(id: number): { resolve: (reply: Reply) => void; reject: (err: Error) => void } | undefined {
    const w = this.waiting.get(id);
    if (!w) return undefined;
    this.waiting.delete(id);
    if (w.timer) clearTimeout(w.timer);
    return w;
  }
}
