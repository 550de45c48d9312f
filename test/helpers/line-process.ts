/**
 * A helper process driven by lines: the test writes a command per stdin line and reads one JSON
 * reply per stdout line. Every reply wait is bounded and fails early when the process exits; `stop`
 * asks it to exit (an `exit` line) and SIGKILLs it if it does not, so a test never leaves it behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { withTimeout } from '../../src/util/timeout.js';

/** A reply or an exit takes at most this long, even on a busy 2-core host. */
const REPLY_MS = 10_000;
/**
 * The first reply of a process that starts worker threads or opens devices: seconds on a busy host,
 * 13-20x that in the Soft-RoCE VM's emulated CPU (softroce/README.md).
 */
export const START_MS = 60_000;

export class LineProcess {
  stderr = '';
  private readonly replies: AsyncIterator<string>;
  readonly exited: Promise<unknown>;

  private constructor(readonly child: ChildProcess, readonly label: string) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    this.exited = once(child, 'exit');
  }

  /** Runs `script` (a compiled .js next to the caller) with `args` under this node. */
  static spawn(script: URL, args: readonly string[], label: string): LineProcess {
    return new LineProcess(spawn(process.execPath, [script.pathname, ...args], { stdio: 'pipe' }), label);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `command` and parses the reply line. */
  async ask<T>(command: string, what = command.split(' ')[0]): Promise<T> {
    this.child.stdin!.write(`${command}\n`);
    return this.next<T>(what);
  }

  /** The next reply line, parsed; fails if the process exits first or after `timeoutMs`. */
  async next<T>(what: string, timeoutMs = REPLY_MS): Promise<T> {
    const died = this.exited.then(() => {
      throw new Error(`${this.label} exited before its ${what} reply; stderr: ${this.stderr}`);
    });
    const line = await withTimeout(Promise.race([this.replies.next(), died]), timeoutMs, `${this.label} ${what}`);
    return JSON.parse(line.value as string) as T;
  }

  /** Asks the process to exit; kills it if it does not within REPLY_MS. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.stdin!.end('exit\n');
    await withTimeout(this.exited, REPLY_MS, `${this.label} exit`).catch(() => this.kill());
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await withTimeout(this.exited, REPLY_MS, `${this.label} ${signal}`);
  }
}
