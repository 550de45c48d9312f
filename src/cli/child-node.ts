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

/** How a child is started: `prefix` is a command that runs it (e.g. `ip netns exec NS`), `where` names that in errors. */
export interface ChildNodeSpawn {
  prefix?: readonly string[];
  where?: string;
}

export function startChildNode(args: string[], timeoutMs = 60_000, spawnAs: ChildNodeSpawn = {}): Promise<ChildNode> {
  const prefix = spawnAs.prefix ?? [];
  const command = [...prefix, process.execPath, CLI_MAIN, ...args];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: string[] = [];
  const role = args[0] === 'router' ? 'router' : args.includes('--role') ? args[args.indexOf('--role') + 1] : 'colocated';
  // A router also logs 'registry listening' for the registry it hosts, before its own line.
  const upMessage = role === 'router' ? 'router listening' : role === 'registry' ? 'registry listening' : 'node listening';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const node: ChildNode = { child, args, url: '', bootstrapPort: null, registryUrl: null, logs, exited };
  const what = `pd-node ${args.join(' ')}${spawnAs.where ? ` ${spawnAs.where}` : ''}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} not up after ${timeoutMs / 1000} s:\n${logs.join('\n')}`));
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
        if (rec.msg === upMessage && typeof rec.url === 'string') {
          node.url = rec.url;
          clearTimeout(timer);
          resolve(node);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with code ${code} before listening:\n${logs.join('\n')}`));
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
