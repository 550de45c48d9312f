/**
 * Test side of fetch-agent.ts: starts the agent under a command prefix (e.g. `ip netns exec NS ...`)
 * and sends it requests. Every request is bounded twice: by its own timeout in the agent, and here by
 * that timeout plus a grace, in case the agent itself is stuck or gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HttpClient, HttpReply, HttpRequest } from './timed-fetch.js';

const AGENT_MAIN = fileURLToPath(new URL('./fetch-agent.js', import.meta.url));
/** The agent starts in well under a second; a busy machine may take a few. */
const READY_TIMEOUT_MS = 20_000;
/** Beyond a request's own timeout: time for the agent to report it. */
const REPLY_GRACE_MS = 5_000;

export class FetchAgent implements HttpClient {
  private readonly pending = new Map<number, (reply: HttpReply) => void>();
  private nextId = 0;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const { id, ...reply } = JSON.parse(line) as HttpReply & { id: number };
      this.pending.get(id)?.(reply);
      this.pending.delete(id);
    });
  }

  /** `prefix`: the command (and its arguments) that runs `node AGENT` where the agent should live. */
  static start(prefix: readonly string[]): Promise<FetchAgent> {
    const child = spawn(prefix[0], [...prefix.slice(1), process.execPath, AGENT_MAIN], { stdio: ['pipe', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`fetch agent (${prefix.join(' ')}) not ready after ${READY_TIMEOUT_MS} ms`));
      }, READY_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`fetch agent (${prefix.join(' ')}) exited with code ${code}`));
      });
      child.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve(new FetchAgent(child));
      });
    });
  }

  request(req: HttpRequest): Promise<HttpReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ status: 0, text: `fetch agent did not answer within ${req.timeoutMs + REPLY_GRACE_MS} ms`, ms: req.timeoutMs + REPLY_GRACE_MS });
      }, req.timeoutMs + REPLY_GRACE_MS);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.child.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  /** Ends the agent (it exits when its stdin closes; SIGKILL if it does not). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), REPLY_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}
