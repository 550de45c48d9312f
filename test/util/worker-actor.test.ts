/**
 * The actor helper (src/util/actor/) on its own: start-up that never finishes, that fails or exits;
 * stop of a worker that ignores the ask; a crash reported once; and request/reply's rules (a queued
 * reply read before a timeout, a send's own error, one deadline over send and reply, close).
 * Real worker threads (stand-in-actor.ts); every bound here is small because nothing loads.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestReply } from '../../src/util/actor/request-reply.js';
import { WorkerActor } from '../../src/util/actor/worker-actor.js';
import { withTimeout } from '../../src/util/timeout.js';
import type { StandInData } from './stand-in-actor.js';

const STAND_IN = new URL('./stand-in-actor.js', import.meta.url);
/** Bound on waiting for what must happen promptly (not a timing assertion: it only ends a hang). */
const WAIT_MS = 10_000;

function spawn(behaviour: StandInData['behaviour'], startMs = WAIT_MS): { beats: Int32Array; actor: Promise<WorkerActor<number>> } {
  const buffer = new SharedArrayBuffer(4);
  const data: StandInData = { behaviour, beats: buffer };
  const actor = WorkerActor.spawn<number>({
    name: 'stand-in',
    url: STAND_IN,
    workerData: data,
    startMs,
    handshake: (msg) => {
      const m = msg as { type: string; value?: number; message?: string };
      if (m.type === 'ready') return m.value;
      if (m.type === 'failed') return new Error(`stand-in could not start: ${m.message}`);
      return undefined;
    },
  });
  return { beats: new Int32Array(buffer), actor };
}

/** Resolves once the stand-in's heartbeat counter has stopped moving: its thread is gone. */
async function stopsBeating(beats: Int32Array): Promise<void> {
  for (;;) {
    const before = Atomics.load(beats, 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (Atomics.load(beats, 0) === before) return;
  }
}

test('worker actor: a silent start-up is bounded and the worker terminated; a refusal and an exit during start-up name themselves', async () => {
  const silent = spawn('silent', 200);
  await assert.rejects(silent.actor, /stand-in start-up timed out after 0.2 s/);
  await withTimeout(stopsBeating(silent.beats), WAIT_MS, 'the silent stand-in to be terminated');
  await assert.rejects(spawn('refuse').actor, /stand-in could not start: no device/);
  await assert.rejects(spawn('exit').actor, /stand-in exited with code 3 during start-up/);
});

test('worker actor: ready carries its value; stop terminates a worker that ignores the ask, and gone is reported once', async () => {
  const { beats, actor: started } = spawn('deaf');
  const actor = await started;
  assert.equal(actor.ready, 42);
  const reasons: string[] = [];
  actor.onGone((r) => reasons.push(r));
  let asked = 0;
  await actor.stop(() => asked++, 200);
  assert.equal(asked, 1);
  await withTimeout(stopsBeating(beats), WAIT_MS, 'the deaf stand-in to be terminated');
  await withTimeout(actor.exited, WAIT_MS, 'exit');
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /^stand-in exited with code \d+$/);
  const late: string[] = [];
  actor.onGone((r) => late.push(r));
  assert.deepEqual(late, reasons, 'a handler added after the end learns the same reason');
});

test('worker actor: a crash is reported with its error; a polite stop exits cleanly', async () => {
  const crashing = await spawn('polite').actor;
  const gone = new Promise<string>((resolve) => crashing.onGone(resolve));
  crashing.worker.postMessage('crash');
  assert.equal(await withTimeout(gone, WAIT_MS, 'gone'), 'stand-in crashed: a bug in the actor');
  const polite = await spawn('polite').actor;
  await polite.stop(() => polite.worker.postMessage('stop'), WAIT_MS);
  assert.equal(await polite.exited, 0, 'it exited on its own, not terminated');
});

test('request/reply: a reply already queued when the timer fires wins; a late one is dropped; close fails the rest and later requests', async () => {
  const queued: [number, string][] = [];
  const rr = new RequestReply<string>(() => {
    for (const [id, reply] of queued.splice(0)) rr.settle(id, reply);
  });
  let sentId = 0;
  const first = rr.request('first', 50, (id) => {
    sentId = id;
    queued.push([id, 'in time']); // queued, but nobody reads it until the timer fires
  });
  assert.equal(await first, 'in time');
  assert.equal(rr.settle(sentId, 'again'), false, 'a request settles once');
  const second = rr.request('second', 50, () => {});
  await assert.rejects(second, /second timed out after 0.05 s/);
  const third = rr.request('third', WAIT_MS, () => {});
  rr.close('the actor is gone');
  await assert.rejects(third, /the actor is gone/);
  await assert.rejects(rr.request('fourth', WAIT_MS, () => {}), /the actor is gone/);
});

test('request/reply: a send that fails fails its request with its own error; the reply timer starts when the send is done', async () => {
  const rr = new RequestReply<string>();
  await assert.rejects(rr.request('refused', WAIT_MS, () => Promise.reject(new Error('not sent within 1 s'))), /not sent within 1 s/);
  await assert.rejects(rr.request('thrown', WAIT_MS, () => { throw new Error('port closed'); }), /port closed/);
  // The send takes past the whole deadline: the reply still gets its (at least 1 ms) chance, then times out.
  let id = 0;
  const slow = rr.request('slow', 20, (i) => {
    id = i;
    return new Promise((resolve) => setTimeout(resolve, 60));
  });
  await assert.rejects(slow, /slow timed out after 0.02 s/);
  assert.equal(rr.fail(id, new Error('x')), false, 'it is no longer waiting');
  // A reply that comes while the send is still pending counts.
  let pendingId = 0;
  let finishSend!: () => void;
  const early = rr.request('early', WAIT_MS, (i) => {
    pendingId = i;
    return new Promise<void>((resolve) => (finishSend = resolve));
  });
  rr.settle(pendingId, 'before the send ended');
  finishSend();
  assert.equal(await early, 'before the send ended');
});
