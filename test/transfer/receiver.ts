/**
 * The test side of receiver-process.ts: spawns it, reads its endpoint, asks for digests, and always
 * stops it (SIGKILL as the last resort; a killed shm receiver's segment is unlinked by `stop`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { shmUnlink } from '../../native/libc.js';
import type { KvLayout } from '../../src/kv/layout.js';
import type { KvEndpoint, TransferBackendName } from '../../src/transfer/kv-transfer.js';
import { withTimeout } from '../../src/node/timeout.js';

const SCRIPT = new URL('./receiver-process.js', import.meta.url);
const REPLY_MS = 10_000;

export class Receiver {
  stderr = '';
  endpoint!: KvEndpoint;
  private readonly replies: AsyncIterator<string>;
  private readonly exited: Promise<unknown>;

  private constructor(readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    this.exited = once(child, 'exit');
  }

  static async start(backend: TransferBackendName, layout: KvLayout, numPages: number): Promise<Receiver> {
    const child = spawn(process.execPath, [SCRIPT.pathname, backend, JSON.stringify(layout), String(numPages)], { stdio: 'pipe' });
    const r = new Receiver(child);
    try {
      r.endpoint = (JSON.parse(await r.reply('start-up')) as { endpoint: KvEndpoint }).endpoint;
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; receiver stderr: ${r.stderr}`);
    }
    return r;
  }

  async digests(): Promise<string[]> {
    this.child.stdin!.write('digests\n');
    return (JSON.parse(await this.reply('digests')) as { digests: string[] }).digests;
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
    this.child.stdin!.write(`${line}\n`);
    const reply = JSON.parse(await this.reply(line.split(' ')[0])) as { done?: unknown; error?: string };
    if (reply.error !== undefined) throw new Error(reply.error);
    return reply.done;
  }

  /** Asks the process to exit; kills it if it does not within a few seconds. Unlinks a leftover shm segment. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end('exit\n');
      await withTimeout(this.exited, REPLY_MS, 'receiver exit').catch(() => this.child.kill('SIGKILL'));
    }
    if (this.endpoint?.backend === 'shm') {
      try {
        shmUnlink(this.endpoint.name);
      } catch {
        // already unlinked by the receiver itself
      }
    }
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await withTimeout(this.exited, REPLY_MS, 'receiver kill');
  }

  /** The next stdout line; fails if the process exits first. */
  private async reply(what: string): Promise<string> {
    const died = this.exited.then(() => {
      throw new Error(`receiver process exited before its ${what} reply`);
    });
    const next = await withTimeout(Promise.race([this.replies.next(), died]), REPLY_MS, `receiver ${what}`);
    return next.value as string;
  }
}
