/**
 * The receiving process as the sending side sees it: either spawned here (`pd-bench transfer --role
 * receiver --once`, on this host) or already running elsewhere (--peer HOST:PORT). Either way a
 * control connection; a spawned one is also waited for (and killed if it does not exit) at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../../src/util/timeout.js';
import { ControlClient } from './control-channel.js';

const PD_BENCH = fileURLToPath(new URL('../pd-bench.js', import.meta.url));
const START_MS = 15_000;

export interface Peer {
  host: string;
  port: number;
}

export class ReceiverProcess {
  private constructor(readonly control: ControlClient, readonly host: string, private readonly child: ChildProcess | null) {}

  /** Spawns a receiver listening on `host`; `backendArgs`: the backend flags it gets (the sender's). */
  static async spawn(host: string, backendArgs: readonly string[]): Promise<ReceiverProcess> {
    const child = spawn(process.execPath, [PD_BENCH, 'transfer', '--role', 'receiver', '--host', host, '--control-port', '0', '--once', ...backendArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const exited = once(child, 'exit').then(([code]) => {
        throw new Error(`the receiver process exited with code ${code} before listening`);
      });
      const first = await withTimeout(Promise.race([lines.next(), exited]), START_MS, 'receiver process start-up');
      const { control } = JSON.parse(first.value as string) as { control: Peer };
      return new ReceiverProcess(await ControlClient.connect(control.host, control.port, START_MS), control.host, child);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  /** Uses a receiver started by hand (on another host, say). */
  static async connect(peer: Peer): Promise<ReceiverProcess> {
    return new ReceiverProcess(await ControlClient.connect(peer.host, peer.port, START_MS), peer.host, null);
  }

  /** The spawned receiver's process id (null for one started by hand). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Ends the session (the receiver frees its pool); a spawned receiver then exits. */
  async close(): Promise<void> {
    this.control.close();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await withTimeout(once(child, 'exit'), 10_000, 'receiver process exit').catch(() => child.kill('SIGKILL'));
  }
}
