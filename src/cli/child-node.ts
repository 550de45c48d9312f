/**
 * A pd-node process started by another one (the demo; tests): spawned from this package's own CLI,
 * considered up when its JSON log says it is listening. The log lines are kept (not shown) so a
 * failure can print them. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export interface ChildNode {
  readonly child: ChildProcess;
  readonly args: readonly string[];
  /** HTTP base URL (nodes and router). */
  url: string;
  /** Prefill nodes: the bootstrap port actually bound. */
  bootstrapPort: number | null;
  /** Router: the registry it hosts (tcp://...), if any. */
  registryUrl: string | null;
  /** stderr lines so far (JSON logs). */
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}

export function startChildNode(args: string[], timeoutMs = 60_000): Promise<ChildNode> {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const node: ChildNode = { child, args, url: '', bootstrapPort: null, registryUrl: null, logs, exited };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pd-node ${args.join(' ')} not up after ${timeoutMs / 1000} s:\n${logs.join('\n')}`));
    }, timeoutMs);
    let pending = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const rec = parseLogLine(line);
        if (!rec) continue;
        if (typeof rec.bootstrapPort === 'number') node.bootstrapPort = rec.bootstrapPort;
        if (typeof rec.registryUrl === 'string') node.registryUrl = rec.registryUrl;
        if ((rec.msg === 'node listening' || rec.msg === 'router listening') && typeof rec.url === 'string') {
          node.url = rec.url;
          clearTimeout(timer);
          resolve(node);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pd-node ${args.join(' ')} exited with code ${code} before listening:\n${logs.join('\n')}`));
    });
  });
}

/** SIGTERM (or `signal`), then SIGKILL if it has not exited within `graceMs`. */
export async function stopChildNode(node: ChildNode, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill(signal);
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}

function parseLogLine(line: string): Record<string, unknown> | null {
  try {
    const rec: unknown = JSON.parse(line);
    return typeof rec === 'object' && rec !== null ? (rec as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
