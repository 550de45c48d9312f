/**
 * Test helpers for real pd-node processes: spawn the CLI, wait for the log line that says it is
 * up (with its URL / bootstrap port), and stop or kill it. Every wait has a timeout; `stopAll`
 * kills whatever a test started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  /** HTTP base URL (nodes and router). */
  url: string;
  /** Prefill nodes: the bootstrap port actually bound. */
  bootstrapPort: number | null;
  /** Router: the registry it hosts (tcp://...), if any. */
  registryUrl: string | null;
  /** Everything the process wrote to stderr so far (JSON log lines). */
  logs: string[];
  exited: Promise<number | null>;
}

const started = new Set<NodeProcess>();

/** Starts `pd-node ARGS` and resolves when its log says it is listening. */
export function startProcess(args: string[], timeoutMs = 30_000): Promise<NodeProcess> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: NodeProcess = { child, url: '', bootstrapPort: null, registryUrl: null, logs, exited };
  started.add(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pd-node ${args.join(' ')} not up after ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    let pending = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (typeof rec.bootstrapPort === 'number') proc.bootstrapPort = rec.bootstrapPort;
        if (typeof rec.registryUrl === 'string') proc.registryUrl = rec.registryUrl;
        if ((rec.msg === 'node listening' || rec.msg === 'router listening') && typeof rec.url === 'string') {
          proc.url = rec.url;
          clearTimeout(timer);
          resolve(proc);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pd-node ${args.join(' ')} exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
}

/** SIGKILL, and wait for the exit. */
export async function killProcess(p: NodeProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await p.exited;
  started.delete(p);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => killProcess(p, 'SIGTERM')));
}

export async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return res.json();
}

export async function postJson(url: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: signal ?? AbortSignal.timeout(60_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // SSE or plain text: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Polls a node's /get_server_info until its pool is whole again, or fails after `ms`. */
export async function waitForFreePool(url: string, ms = 5000): Promise<{ free_pages: number; total_pages: number }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const info = await getJson(`${url}/get_server_info`);
    const s = info.scheduler_stats as { free_pages: number; total_pages: number; page_tables: number };
    if (s.free_pages === s.total_pages && s.page_tables === 0) return s;
    if (Date.now() > deadline) throw new Error(`${url}: pool not free after ${ms} ms: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
