/**
 * A prefill node embedded in a process that lives on, whose scheduler worker crashes while a room is
 * being written into a decode node's shared-memory pool: the crash closes the prefill's transfer
 * actor, which drops its writer lock, so once the decode node declares the prefill lost it can cut
 * the writer and take the room's pages back. Before, the lock stayed held by the living process (its
 * fd outlived the terminated worker): the decode node kept the pages quarantined for good.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import { withTimeout } from '../../src/util/timeout.js';
import { getJson, waitForFreePool } from '../helpers/processes.js';
import { refusedPort } from '../router/fake-pd-node.js';

const FIXED = new URL('./fixed-token-engine.js', import.meta.url).href;
const FAILING = new URL('./failing-engine.js', import.meta.url).href;
/** Each prefill forward step takes this long, and a step prefills at most CHUNK tokens: the prompt stays in flight for seconds. */
const STEP_MS = 150;
const CHUNK = 16;
const PROMPT = 'the river runs under the old stone bridge '.repeat(20);
/** Bound on each wait of the test (crash seen, pages used, pool whole again). */
const WAIT_MS = 30_000;

/** Writer lock files (`<pool>.w-<writer>`) in /dev/shm: a prefill link holds one while it may write. */
function writerLocks(): string[] {
  return readdirSync('/dev/shm').filter((n) => n.startsWith('pd-node-') && n.includes('.w-'));
}

async function until<T>(what: string, probe: () => Promise<T> | T, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(v)})`);
    await sleep(25);
  }
}

test('a decode node takes back the pages of a room whose embedded prefill crashed mid-write (shm)', async (t) => {
  const crashFile = join(tmpdir(), `pd-node-prefill-crash-${process.pid}-${Date.now()}`);
  const nodes: NodeHandle[] = [];
  t.after(async () => {
    rmSync(crashFile, { force: true });
    await Promise.all(nodes.map((n) => n.close()));
  });
  const shm = defaultTransferConfig('shm');
  const decode = await startNode({ port: 0, logLevel: 'silent', role: 'decode', transfer: shm, engine: { module: FIXED, config: { tokenId: 1 } }, peerTimeoutSecs: 1 });
  nodes.push(decode);
  const bootstrapPort = await refusedPort();
  const prefill = await startNode({
    port: 0,
    logLevel: 'silent',
    role: 'prefill',
    transfer: shm,
    bootstrapPort,
    chunkedPrefillSize: CHUNK,
    engine: { module: FAILING, config: { tokenId: 1, failAt: 'file', crashFile, stepMs: STEP_MS } },
  });
  nodes.push(prefill);
  const locksBefore = new Set(writerLocks());

  // Both halves of one PD request, as a router sends them.
  const body = JSON.stringify({ text: PROMPT, sampling_params: { max_new_tokens: 4 }, bootstrap_host: '127.0.0.1', bootstrap_port: bootstrapPort, bootstrap_room: 4242 });
  const send = (url: string): Promise<number> =>
    fetch(`${url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(WAIT_MS) }).then(
      (r) => r.status,
      () => 0,
    );
  const answers = Promise.all([send(prefill.url), send(decode.url)]);

  // The crash lands mid-room: the decode node holds pages for it and the prefill's link holds a writer lock.
  await until('the decode node to reserve the room', () => getJson(`${decode.url}/get_server_info`).then((i) => i.scheduler_stats), (s) => s.free_pages < s.total_pages);
  await until('the prefill link to take its writer lock', () => writerLocks().filter((n) => !locksBefore.has(n)), (l) => l.length === 1);

  writeFileSync(crashFile, '');
  const reason = await withTimeout(prefill.client.lost, WAIT_MS, 'the prefill crash to be seen');
  assert.match(reason, /crashed its thread, as asked/);
  const [prefillStatus, decodeStatus] = await answers;
  assert.ok(prefillStatus >= 500, `the prefill half fails (${prefillStatus})`);
  assert.notEqual(decodeStatus, 200, 'the decode half does not succeed');

  await prefill.close();
  nodes.splice(nodes.indexOf(prefill), 1);
  // Declared lost after its peer timeout, the prefill is cut as a writer (its lock is free) and the pages come back.
  await waitForFreePool(decode.url, WAIT_MS);
});
