/**
 * A decode node embedded in a process that lives on releases its KV pool in shared memory (mapping,
 * fd and /dev/shm name) however its scheduler worker ends: a clean close, a crash of the worker's
 * thread after start-up, a start-up that fails after the pool was placed. Before, a clean close
 * left the pool mapped and its fd open (with the owner's lock), and a crash left its name too.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import { withTimeout } from '../../src/util/timeout.js';

const FIXED = new URL('./fixed-token-engine.js', import.meta.url).href;
const FAILING = new URL('./failing-engine.js', import.meta.url).href;
/** Bound on the worker's exit and the release after it. */
const RELEASE_MS = 15_000;

/** /dev/shm objects this process maps (by path, " (deleted)" stripped). */
function mappedShm(): Set<string> {
  const paths = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .map((l) => l.slice(l.indexOf('/')))
    .filter((p) => p.startsWith('/dev/shm/'));
  return new Set(paths.map((p) => p.replace(/ \(deleted\)$/, '')));
}

/** /dev/shm objects this process holds an fd on. */
function openShm(): Set<string> {
  const paths = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/dev/shm/')) paths.add(target.replace(/ \(deleted\)$/, ''));
    } catch {
      // closed since the listing
    }
  }
  return paths;
}

/** Which of `objects` this process still maps, holds open, or /dev/shm still names. */
function leftOf(objects: Iterable<string>): string[] {
  const mapped = mappedShm();
  const open = openShm();
  return [...objects].flatMap((p) => [mapped.has(p) ? `${p} mapped` : [], open.has(p) ? `${p} open` : [], existsSync(p) ? `${p} named` : []].flat());
}

async function waitReleased(objects: Set<string>): Promise<void> {
  const deadline = Date.now() + RELEASE_MS;
  while (leftOf(objects).length > 0 && Date.now() < deadline) await sleep(50);
  assert.deepEqual(leftOf(objects), [], 'every shm object of the dead node is released');
}

function startDecode(engine: { module: string; config: Record<string, unknown> }): Promise<NodeHandle> {
  return startNode({ port: 0, logLevel: 'silent', role: 'decode', transfer: defaultTransferConfig('shm'), engine });
}

/** The node's own pool: the object it created, which the process maps, holds open and /dev/shm names. */
function poolObjects(before: Set<string>): Set<string> {
  const now = new Set([...mappedShm()].filter((p) => !before.has(p) && existsSync(p)));
  assert.ok(now.size >= 1, `the decode node maps its pool from /dev/shm (mapped: ${[...mappedShm()].join(', ') || 'none'})`);
  for (const p of now) assert.ok(openShm().has(p), `${p} is held open while the node runs`);
  return now;
}

describe('a decode node releases its shared-memory pool', () => {
  test('on close', async () => {
    const before = mappedShm();
    const node = await startDecode({ module: FIXED, config: { tokenId: 1 } });
    let pool: Set<string>;
    try {
      pool = poolObjects(before);
    } finally {
      await node.close();
    }
    await waitReleased(pool);
  });

  test('when its scheduler worker crashes after start-up', async (t) => {
    const crashFile = join(tmpdir(), `pd-node-crash-${process.pid}-${Date.now()}`);
    t.after(() => rmSync(crashFile, { force: true }));
    const before = mappedShm();
    const node = await startDecode({ module: FAILING, config: { tokenId: 1, failAt: 'file', crashFile } });
    try {
      const pool = poolObjects(before);
      writeFileSync(crashFile, '');
      const reason = await withTimeout(node.client.lost, RELEASE_MS, 'the crash to be seen');
      assert.match(reason, /crashed its thread, as asked/);
      await waitReleased(pool);
      const res = await fetch(`${node.url}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'hi' }) });
      assert.equal(res.status, 503, 'the node answers 503 once its worker is gone');
    } finally {
      await node.close();
    }
  });

  test('when start-up fails after the pool was placed', async () => {
    const before = mappedShm();
    const beforeNames = new Set(readdirSync('/dev/shm'));
    await assert.rejects(startDecode({ module: FAILING, config: { tokenId: 1, failAt: 'create' } }), /failed in create, as asked/);
    assert.deepEqual([...mappedShm()].filter((p) => !before.has(p)), [], 'no new mapping is left');
    assert.deepEqual([...openShm()].filter((p) => !before.has(p)), [], 'no new fd is left');
    assert.deepEqual(readdirSync('/dev/shm').filter((n) => !beforeNames.has(n)), [], 'no new /dev/shm object is left');
  });
});
