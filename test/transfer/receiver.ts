/**
 * The test side of receiver-process.ts: spawns it, reads its endpoint, asks for digests, and always
 * stops it (SIGKILL as the last resort; a killed shm receiver's object is unlinked by `stop`).
 */
import { shmUnlink } from '../../native/libc.js';
import type { KvLayout } from '../../src/kv/layout.js';
import type { TransferBackendName } from '../../src/transfer/backends.js';
import type { ShmEndpoint } from '../../src/transfer/shm/endpoint.js';
import type { TcpEndpoint } from '../../src/transfer/tcp/endpoint.js';
import type { VerbsEndpoint } from '../../src/transfer/verbs/endpoint.js';
import { LineProcess, START_MS } from '../helpers/line-process.js';

const SCRIPT = new URL('./receiver-process.js', import.meta.url);

/** The endpoints of the backends these tests run (so a test can narrow on `backend`). */
export type TestEndpoint = TcpEndpoint | ShmEndpoint | VerbsEndpoint;

export class Receiver {
  endpoint!: TestEndpoint;

  private constructor(private readonly process: LineProcess) {}

  static async start(backend: TransferBackendName, layout: KvLayout, numPages: number): Promise<Receiver> {
    const r = new Receiver(LineProcess.spawn(SCRIPT, [backend, JSON.stringify(layout), String(numPages)], 'receiver'));
    try {
      r.endpoint = (await r.process.next<{ endpoint: TestEndpoint }>('start-up', START_MS)).endpoint;
    } catch (err) {
      await r.process.kill();
      throw err;
    }
    return r;
  }

  get child(): LineProcess['child'] {
    return this.process.child;
  }

  get stderr(): string {
    return this.process.stderr;
  }

  async digests(): Promise<string[]> {
    return (await this.process.ask<{ digests: string[] }>('digests')).digests;
  }

  async grant(room: string, writer: string, pageIds: readonly number[]): Promise<void> {
    await this.call(`grant ${room} ${writer} ${JSON.stringify(pageIds)}`);
  }

  async release(room: string, how: 'confirmed' | 'unconfirmed'): Promise<boolean> {
    return (await this.call(`release ${room} ${how}`)) as boolean;
  }

  async cutWriter(writer: string): Promise<boolean> {
    return (await this.call(`cut ${writer}`)) as boolean;
  }

  /** One receiver call through the process (receiver-process.ts); its `done`, or its error thrown. */
  private async call(line: string): Promise<unknown> {
    const reply = await this.process.ask<{ done?: unknown; error?: string }>(line);
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.done;
  }

  /** Asks the process to exit (kills it if it does not); unlinks a leftover shm object. */
  async stop(): Promise<void> {
    await this.process.stop();
    if (this.endpoint?.backend === 'shm') {
      try {
        shmUnlink(this.endpoint.name);
      } catch {
        // already unlinked by the receiver itself
      }
    }
  }

  async kill(): Promise<void> {
    await this.process.kill();
  }
}
