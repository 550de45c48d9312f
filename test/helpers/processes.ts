/**
 * Test helpers for real pd-node processes (started through src/cli/child-node.ts). `stopAll` ends
 * whatever a test started; the JSON helpers bound every request.
 */
import { startChildNode, stopChildNode, type ChildNode, type ChildNodeSpawn } from '../../src/cli/child-node.js';
import { waitFor } from './wait.js';

export type NodeProcess = ChildNode;

const started = new Set<ChildNode>();

/**
 * A node's start-up: seconds on a busy host, 13-20x that in the Soft-RoCE VM's emulated CPU
 * (softroce/README.md), where a busy host made 60 s too short.
 */
export const NODE_START_MS = process.env.SOFTROCE_GUEST === '1' ? 240_000 : 60_000;

export async function startProcess(args: string[], timeoutMs = NODE_START_MS, spawnAs?: ChildNodeSpawn): Promise<ChildNode> {
  const node = await startChildNode(args, timeoutMs, spawnAs);
  started.add(node);
  return node;
}

/** SIGKILL by default: a crash, as the failure tests need. */
export async function killProcess(p: ChildNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await stopChildNode(p, signal);
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
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: signal ?? AbortSignal.timeout(60_000) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // SSE or plain text: keep the text
  }
  return { status: res.status, body: parsed };
}

/**
 * Waits for a log line of `node` that contains every one of `parts`, or fails after `ms` showing the
 * logs: a process's stderr reaches the test some time after what it logged about happened.
 */
export async function waitForLogLine(node: NodeProcess, parts: readonly string[], ms = 10_000, what = `a line with ${parts.join(' and ')}`): Promise<string> {
  const line = await waitFor(() => node.logs.find((l) => parts.every((p) => l.includes(p))), (l) => l !== undefined, what, ms, () => `missing from the logs:\n${node.logs.join('\n')}`);
  return line!;
}

/** Polls a node's /get_server_info until its pool is whole again, or fails after `ms`. */
export async function waitForFreePool(url: string, ms = 5000): Promise<{ free_pages: number; total_pages: number }> {
  return waitFor(
    async () => (await getJson(`${url}/get_server_info`)).scheduler_stats as { free_pages: number; total_pages: number; page_tables: number; pd_rooms: number },
    (s) => s.free_pages === s.total_pages && s.page_tables === 0 && s.pd_rooms === 0,
    `${url}: pool free`,
    ms,
  );
}
