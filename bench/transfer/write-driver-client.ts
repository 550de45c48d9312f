/**
 * The main thread's handle on the write driver (write-driver.ts), through the one actor helper
 * (src/util/actor/): started once it says ready, each call bounded, a worker that fails or exits
 * rejects the calls under way. `close` closes the driver's actor and waits for the worker to exit
 * (terminating it if that takes too long).
 */
import { RequestReply } from '../../src/util/actor/request-reply.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import type { DriverCall, DriverData, DriverMessage, DriverReply, DriverRequest } from './write-driver-protocol.js';

const WORKER = new URL('./write-driver.js', import.meta.url);
/** Start-up: module loads on a loaded host (the transfer actor the driver starts later has its own bound). */
const START_MS = 60_000;

export class WriteDriver {
  private readonly replies = new RequestReply<DriverReply>();

  private constructor(private readonly actor: WorkerActor<true>) {
    actor.worker.on('message', (msg: DriverMessage) => {
      if (msg.type === 'reply') this.replies.settle(msg.id, msg.reply);
    });
    actor.onGone((reason) => this.replies.close(reason));
  }

  static async start(data: DriverData): Promise<WriteDriver> {
    const actor = await WorkerActor.spawn<true>({
      name: 'write driver', url: WORKER, workerData: data, startMs: START_MS,
      handshake: (msg) => ((msg as DriverMessage).type === 'ready' ? true : undefined),
    });
    return new WriteDriver(actor);
  }

  async call<T extends DriverReply['type']>(req: DriverRequest, expect: T, timeoutMs: number): Promise<Extract<DriverReply, { type: T }>> {
    const msg = await this.replies.request(`write driver ${req.type}`, timeoutMs, (id) => {
      this.actor.worker.postMessage({ id, req } satisfies DriverCall);
    });
    if (msg.type === 'error') throw new Error(msg.message);
    if (msg.type !== expect) throw new Error(`write driver answered ${req.type} with ${msg.type}`);
    return msg as Extract<DriverReply, { type: T }>;
  }

  /** The driver's close (its reply, then its exit, each within `timeoutMs`); terminated after that. */
  async close(timeoutMs: number): Promise<void> {
    await this.actor.stop(() => this.call({ type: 'close' }, 'closed', timeoutMs), 2 * timeoutMs);
  }
}
