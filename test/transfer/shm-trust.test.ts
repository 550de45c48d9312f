/**
 * What a prefill's shm sender trusts, and what the decode's shm receiver can promise. The decode
 * pool lives in this process (createShmKvPool + ShmKvManager.listen); senders run in child
 * processes (shm-writer-process.ts) where a test needs one to die, stop or survive.
 * - A connect refuses, with nothing written, every object that is not the pool the endpoint names:
 *   a non-pd-node object, a pd-node-named one of the wrong size, of another mode, of another owner,
 *   a symlink, a pool whose header names another pool id or page size.
 * - A truncated pool fails the next write with an error; the sender process survives and answers.
 * - cutWriter: false while the writer's process lives, still false while it is stopped, true once
 *   it is killed; a cut writer cannot connect again; lock files go with their senders and receiver.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { newShmName, sweepStaleShmRegions, writerLockName, writerLocksOf } from '../../native/shm-names.js';
import { REGION_HEADER_BYTES, SHM_DIR } from '../../native/shm-region.js';
import { gqaLayout, pageBytes } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import type { KvEndpoint, KvReceiver } from '../../src/transfer/kv-transfer.js';
import type { ShmEndpoint } from '../../src/transfer/shm/endpoint.js';
import { ShmKvManager } from '../../src/transfer/shm/shm-kv-manager.js';
import { createShmKvPool } from '../../src/transfer/shm/shm-kv-pool.js';
import { LineProcess, START_MS } from '../helpers/line-process.js';
import { waitFor } from '../helpers/wait.js';
import { fillRandom } from './pages.js';

const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7); // 840-byte pages
const RX_PAGES = 16;
const WRITER_SCRIPT = new URL('./shm-writer-process.js', import.meta.url);
/** uid 65534 (nobody) owns the planted object of another user (the tests run as root in CI). */
const OTHER_UID = 65534;

const newWriter = (): string => randomBytes(16).toString('hex');
const digest = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Decode {
  receiver: KvReceiver;
  endpoint: ShmEndpoint;
  pool: KvPool;
  /** The pool object's path. */
  path: string;
  stop(): Promise<void>;
}

/** The decode side: a pool in shm and its receiver, in this process. */
async function startDecode(): Promise<Decode> {
  const { pool, region } = createShmKvPool(LAYOUT, RX_PAGES);
  const receiver = await new ShmKvManager(() => {}).listen(pool);
  return {
    receiver,
    endpoint: receiver.endpoint as ShmEndpoint,
    pool,
    path: `${SHM_DIR}${region.name}`,
    stop: async () => {
      await receiver.close();
      region.unlink();
      region.close();
    },
  };
}

/** A sender in its own process; resolves once it connected (or says why it could not). */
async function startWriter(endpoint: KvEndpoint, writer: string, started: LineProcess[]): Promise<{ process: LineProcess; reply: { connected?: true; error?: string } }> {
  const child = LineProcess.spawn(WRITER_SCRIPT, [JSON.stringify(endpoint), JSON.stringify(LAYOUT), '8', writer], 'shm writer');
  started.push(child);
  return { process: child, reply: await child.next('start-up', START_MS) };
}

/** A prefill pool of random pages whose page size is the decode pool's. */
function sourcePool(layout = LAYOUT): KvPool {
  const pool = new KvPool(layout, 8);
  fillRandom(pool);
  return pool;
}

test('shm connect: every object but the pool the endpoint names is refused, with nothing written', async (t) => {
  const decode = await startDecode();
  const planted: string[] = [];
  /** An object under `name` holding the real pool's header and random bytes. */
  const plant = (name: string, bytes: number, mode = 0o600): string => {
    const path = `${SHM_DIR}${name}`;
    planted.push(path);
    const content = randomBytes(bytes);
    readFileSync(decode.path).copy(content, 0, 0, REGION_HEADER_BYTES);
    writeFileSync(path, content, { mode });
    chmodSync(path, mode); // whatever the umask
    return name;
  };
  try {
    const manager = new ShmKvManager(() => {});
    const good = decode.endpoint;
    const size = REGION_HEADER_BYTES + good.bytes;
    const victim = plant(`/not-pd-node-${process.pid}`, size);
    const link = newShmName();
    symlinkSync(`${SHM_DIR}${victim}`, `${SHM_DIR}${link}`);
    planted.push(`${SHM_DIR}${link}`);
    const cases: [string, ShmEndpoint, string, RegExp][] = [
      ['an object that is not a pd-node pool', { ...good, name: victim }, victim, /refusing shm object "\/not-pd-node-\d+": not a pd-node pool name/],
      ['a pd-node object of the wrong size', { ...good, name: plant(newShmName(), size + 4096) }, '', /refusing shm object \/pd-node-\d+-\w+: holds 21632 B, its owner announced 17536 B \(4096 B header \+ 13440 B\)/],
      ['a pd-node object of another mode', { ...good, name: plant(newShmName(), size, 0o644) }, '', /refusing shm object \/pd-node-\d+-\w+: mode 0644, not 0600/],
      ['a pd-node name that is a symlink', { ...good, name: link }, victim, /shm_open\(\/pd-node-\d+-\w+\) failed: ELOOP/],
      ['the pool under another pool id', { ...good, poolId: randomBytes(16).toString('hex') }, good.name, /refusing shm pool \/pd-node-\d+-\w+: pool id \w{32}, the endpoint names pool \w{32}/],
    ];
    if (process.geteuid!() === 0) {
      const foreign = plant(newShmName(), size);
      chownSync(`${SHM_DIR}${foreign}`, OTHER_UID, OTHER_UID);
      cases.push(['a pd-node object of another user', { ...good, name: foreign }, foreign, new RegExp(`refusing shm object /pd-node-\\d+-\\w+: owned by uid ${OTHER_UID}, not by this process's uid 0`)]);
    } else {
      t.diagnostic('not root: the other-owner case needs chown');
    }
    for (const [what, endpoint, watched, message] of cases) {
      const path = `${SHM_DIR}${watched || endpoint.name}`;
      const before = digest(path);
      await assert.rejects(manager.connect(endpoint, sourcePool(), newWriter()), message, what);
      assert.equal(digest(path), before, `${what}: its bytes changed`);
    }
    // our page size differs from the one in the header (the size in pages would fit: 420 B pages)
    await assert.rejects(manager.connect(good, sourcePool(gqaLayout(3, 1, 5, 'float16', 7)), newWriter()), /refusing shm pool .*: pages of 840 B, ours are 420 B/);
    assert.deepEqual(writerLocksOf(good.name), [], 'a refused connect leaves no writer lock');
  } finally {
    for (const path of planted) rmSync(path, { force: true });
    await decode.stop();
  }
});

test('shm: a pool truncated under a connected sender fails its next write; the sender process survives', async () => {
  const decode = await startDecode();
  const started: LineProcess[] = [];
  try {
    const { process: writer, reply } = await startWriter(decode.endpoint, newWriter(), started);
    assert.deepEqual(reply, { connected: true });
    assert.deepEqual(await writer.ask('write [{"src":0,"dst":0,"count":4}]'), { bytes: 4 * pageBytes(LAYOUT) });
    // Past this point this process must not touch its own mapping of the pool either.
    truncateSync(decode.path, REGION_HEADER_BYTES);
    assert.equal(statSync(decode.path).size, REGION_HEADER_BYTES);
    const failed = await writer.ask<{ error?: string }>('write [{"src":0,"dst":8,"count":4}]');
    assert.match(failed.error ?? JSON.stringify(failed), /^shm KV link to \/pd-node-\d+-\w+: the pool object shrank \(truncated by another process\)/);
    assert.deepEqual(await writer.ask('ping'), { pong: writer.child.pid });
    assert.ok(writer.running, 'the sender process is alive');
  } finally {
    await Promise.all(started.map((p) => p.stop()));
    await decode.stop();
  }
});

test('shm cutWriter: false while the writer lives, still false while it is stopped, true once it is killed; a cut writer is refused for good', async () => {
  const decode = await startDecode();
  const started: LineProcess[] = [];
  try {
    const writer = newWriter();
    const lock = `${SHM_DIR}${writerLockName(decode.endpoint.name, writer)}`;
    const { process: p, reply } = await startWriter(decode.endpoint, writer, started);
    assert.deepEqual(reply, { connected: true });
    assert.ok(existsSync(lock), 'the sender holds its writer lock');
    assert.equal(await decode.receiver.cutWriter(writer), false, 'a live writer is not gone');

    p.child.kill('SIGSTOP');
    await waitFor(async () => readFileSync(`/proc/${p.child.pid}/stat`, 'utf8').split(') ')[1][0], (state) => state === 'T', 'writer stopped');
    assert.equal(await decode.receiver.cutWriter(writer), false, 'a stopped writer is not gone');

    await p.kill('SIGKILL');
    assert.equal(await decode.receiver.cutWriter(writer), true, 'a killed writer is gone');
    assert.equal(statSync(lock).size, 1, 'the cut writer is tombstoned');
    const again = await startWriter(decode.endpoint, writer, started);
    assert.match(again.reply.error ?? JSON.stringify(again.reply), /the decode node cut this writer .*: its rooms are over/);

    // a writer cut before it ever connected (say, stopped before its first write) cannot connect afterwards
    const late = newWriter();
    assert.equal(await decode.receiver.cutWriter(late), true);
    await assert.rejects(new ShmKvManager(() => {}).connect(decode.endpoint, sourcePool(), late), /the decode node cut this writer/);
  } finally {
    await Promise.all(started.map((p) => p.kill()));
    await decode.stop();
  }
});

test('shm writer locks: two senders of one writer share it; the last to close removes it; the receiver removes tombstones at close', async () => {
  const decode = await startDecode();
  try {
    const manager = new ShmKvManager(() => {});
    const writer = newWriter();
    const lock = `${SHM_DIR}${writerLockName(decode.endpoint.name, writer)}`;
    const [a, b] = await Promise.all([manager.connect(decode.endpoint, sourcePool(), writer), manager.connect(decode.endpoint, sourcePool(), writer)]);
    await a.close();
    assert.ok(existsSync(lock), 'the second sender still holds the lock');
    assert.equal(await decode.receiver.cutWriter(writer), false, 'its second sender is alive');
    await b.close();
    assert.equal(existsSync(lock), false, 'the last sender removed its lock file');
    await b.close(); // idempotent

    assert.equal(await decode.receiver.cutWriter(writer), true, 'no sender left');
    assert.equal(await decode.receiver.cutWriter(newWriter()), true);
    assert.equal(writerLocksOf(decode.endpoint.name).length, 2, 'two tombstones');
    await decode.receiver.close();
    assert.deepEqual(writerLocksOf(decode.endpoint.name), [], 'the receiver removed them');
  } finally {
    await decode.stop();
  }
});

test('shm writer locks of a pool that is gone are swept with it; those of a live pool stay', async () => {
  const decode = await startDecode();
  const gone = newShmName();
  const orphan = `${SHM_DIR}${writerLockName(gone, newWriter())}`; // its decode node was SIGKILLed
  try {
    writeFileSync(orphan, '', { mode: 0o600 });
    const sender = await new ShmKvManager(() => {}).connect(decode.endpoint, sourcePool(), newWriter());
    try {
      const live = writerLocksOf(decode.endpoint.name);
      assert.equal(live.length, 1);
      const swept = sweepStaleShmRegions();
      assert.ok(swept.includes(orphan.slice(SHM_DIR.length)), `swept: ${swept.join(', ')}`);
      assert.equal(existsSync(orphan), false);
      assert.deepEqual(writerLocksOf(decode.endpoint.name), live, 'a live pool keeps its writer locks');
    } finally {
      await sender.close();
    }
  } finally {
    rmSync(orphan, { force: true });
    await decode.stop();
  }
});
