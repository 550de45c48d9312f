/**
 * The main thread's handle on the write driver (write-driver.ts): one call at a time, each bounded; a
 * worker that fails or exits rejects the call under way. `close` closes the driver's actor and waits
 * for the worker to exit (terminating it if that takes too long).
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { withTimeout } from '../../src/util/timeout.js';
import type { DriverData, DriverReply, DriverRequest } from './write-driver-protocol.js';

const WORKER = new URL('./write-driver.js', import.meta.url);

export class WriteDriver {
  private readonly worker: Worker;
  private readonly gone: Promise<never>;

  constructor(data: DriverData) {
    this.worker = new Worker(WORKER, { workerData: data });
    this.gone = new Promise<never>((_, reject) => {
      this.worker.once('error', (err) => reject(new Error(`write driver crashed: ${err.message}`)));
      this.worker.once('exit', (code) => reject(new Error(`write driver exited with code ${code}`)));
    });
    this.gone.catch(() => {});
  }

  async call<T extends DriverReply['type']>(req: DriverRequest, expect: T, timeoutMs: number): Promise<Extract<DriverReply, { type: T }>> {
    const reply = once(this.worker, 'message').then(([msg]) => msg as DriverReply);
    this.worker.postMessage(req);
    const msg = await withTimeout(Promise.race([reply, this.gone]), timeoutMs, `write driver ${req.type}`);
    if (msg.type === 'error') throw new Error(msg.message);
    if (msg.type !== expect) throw new Error(`write driver answered ${req.type} with ${msg.type}`);
    return msg as Extract<DriverReply, { type: T }>;
  }

  async close(timeoutMs: number): Promise<void> {
    const exited = once(this.worker, 'exit');
    try {
      await this.call({ type: 'close' }, 'closed', timeoutMs);
      await withTimeout(exited, timeoutMs, 'write driver exit');
    } catch {
      await this.worker.terminate();
    }
  }
}
