/**
 * One way to run an actor on a worker thread: spawn it, wait for its ready handshake (bounded), learn
 * once that it is gone, and stop it (bounded, terminated after). The scheduler actor, the transfer
 * actor and the verbs completion poller all start and stop through this.
 *
 * Decisions:
 * - Start-up is bounded by the caller's `startMs`. A worker that says it could not start, crashes,
 *   exits, or stays silent past the bound is terminated and `spawn` rejects naming the actor. A
 *   worker that loads a library through koffi needs a generous bound: koffi 3.3.4 aborts the whole
 *   process when a worker is terminated while it loads one, so such a bound must only catch a worker
 *   that is really stuck (the transfer actor's and the poller's are 120 s).
 * - The handshake arrives on the worker's own port or on a channel port handed to it (`readyOn`):
 *   actors whose replies must be readable synchronously answer on a MessageChannel (request-reply.ts).
 * - Only our own start-up listeners are removed afterwards: Worker keeps internal ones for its port.
 * - The exit is watched from the spawn on, so `stop` cannot miss an exit that came first.
 * - `onGone` reports the first crash or exit once, with a reason naming the actor; `stop` asks the
 *   worker to finish (the caller's message or signal), waits for the exit up to `stopMs`, and
 *   terminates the worker after that.
 */
import { Worker, type MessagePort, type TransferListItem } from 'node:worker_threads';
import { withTimeout } from '../timeout.js';

export interface ActorSpec<R> {
  /** Names the actor in every error: "scheduler worker", "transfer actor", "the completion poller of mlx5_0". */
  name: string;
  url: URL;
  workerData: unknown;
  transferList?: readonly TransferListItem[];
  /** Where the handshake arrives: a channel port handed to the worker; the worker's own port by default. */
  readyOn?: MessagePort;
  /** Bound on start-up: modules, model or library loads, the handshake. */
  startMs: number;
  /** A message seen during start-up: the ready value, an Error (the worker could not start), or undefined (not the handshake). */
  handshake(msg: unknown): R | Error | undefined;
}

export class WorkerActor<R> {
  private goneReason: string | null = null;
  private readonly goneHandlers: ((reason: string) => void)[] = [];

  private constructor(
    readonly name: string,
    readonly worker: Worker,
    /** The handshake's value (the scheduler's model, for example). */
    readonly ready: R,
    /** Settles with the exit code once the worker has exited. */
    readonly exited: Promise<number>,
  ) {
    worker.on('error', (err) => this.gone(`${name} crashed: ${err.message}`));
    void exited.then((code) => this.gone(`${name} exited with code ${code}`));
  }

  static async spawn<R>(spec: ActorSpec<R>): Promise<WorkerActor<R>> {
    const worker = new Worker(spec.url, { workerData: spec.workerData, transferList: spec.transferList ? [...spec.transferList] : undefined, name: spec.name });
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const source = spec.readyOn ?? worker;
    let onMessage: (msg: unknown) => void = () => {};
    let onError: (err: Error) => void = () => {};
    const ready = new Promise<R>((resolve, reject) => {
      onMessage = (msg) => {
        const r = spec.handshake(msg);
        if (r instanceof Error) reject(r);
        else if (r !== undefined) resolve(r);
      };
      onError = (err) => reject(new Error(`${spec.name} crashed during start-up: ${err.message}`));
      void exited.then((code) => reject(new Error(`${spec.name} exited with code ${code} during start-up`)));
      source.on('message', onMessage);
      worker.on('error', onError);
    });
    try {
      return new WorkerActor(spec.name, worker, await withTimeout(ready, spec.startMs, `${spec.name} start-up`), exited);
    } catch (err) {
      await worker.terminate();
      throw err;
    } finally {
      source.off('message', onMessage);
      worker.off('error', onError);
    }
  }

  /** `handler` learns, once, that the worker crashed or exited (after `stop` too). */
  onGone(handler: (reason: string) => void): void {
    if (this.goneReason !== null) handler(this.goneReason);
    else this.goneHandlers.push(handler);
  }

  /**
   * Asks the worker to finish (`ask`: post its shutdown message, or signal it; may return the
   * shutdown's reply) and waits for its exit, both within `stopMs`; terminates it otherwise.
   */
  async stop(ask: () => unknown, stopMs: number): Promise<void> {
    try {
      await withTimeout(Promise.resolve().then(ask).then(() => this.exited), stopMs, `${this.name} stop`);
    } catch {
      await this.worker.terminate();
    }
  }

  private gone(reason: string): void {
    if (this.goneReason !== null) return;
    this.goneReason = reason;
    for (const h of this.goneHandlers.splice(0)) h(reason);
  }
}
