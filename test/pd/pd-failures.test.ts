/**
 * PD failure scenarios on real processes (tcp backend): a node SIGKILLed mid-transfer, a client
 * that goes away, bad and abandoned rooms, a decode node on another model. After each, the pools of
 * the surviving nodes are whole again and other requests still succeed. A kill waits for a moment
 * the nodes show a transfer live (their rooms and KV counters, as test/fault/fault-scenario.ts
 * judges its strikes), and the test asserts it saw one: a kill after every transfer would prove nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genModel } from '../../src/model/gen-model.js';
import { startNode, type NodeHandle } from '../../src/index.js';
import { getJson, killProcess, postJson, startProcess, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { kvBytesSent, LIVE_WINDOW_MS, openRooms } from '../fault/fault-scenario.js';
import { localHttp } from '../fault/timed-fetch.js';
import { metricValue } from '../server/support.js';
import { startCluster, type Cluster } from './cluster.js';

/** Long enough that the JS-kernel prefill node takes a good fraction of a second on it. */
const SLOW_PROMPT = 'A long prompt for the slow prefill node, so that it can be killed while it works. '.repeat(40);
const SAMPLING = { temperature: 0, max_new_tokens: 16, ignore_eos: true };
/** Bound on waiting for the moment to kill into: the prompts take seconds of JS-kernel prefill. */
const LIVE_WAIT_MS = 20_000;
const POLL_MS = 20;

/** What the nodes showed when the kill came. */
interface LiveTransfer {
  /** Prefill's KV bytes counter moved this much in the LIVE_WINDOW_MS before (rooms' transfers ending). */
  bytesMoving: number;
  /** Rooms open on prefill and on the decode node about to die (its KV still to come). */
  prefillRooms: number;
  decodeRooms: number;
}

/**
 * Waits (bounded) until transfers from `prefillUrl` are live and `decodeUrl` still waits for KV: the
 * bytes counter moved within the last LIVE_WINDOW_MS and both nodes have rooms open.
 */
async function liveTransfer(prefillUrl: string, decodeUrl: string): Promise<LiveTransfer> {
  const samples: { at: number; bytes: number }[] = [];
  const deadline = performance.now() + LIVE_WAIT_MS;
  for (;;) {
    const [bytes, prefillRooms, decodeRooms] = await Promise.all([kvBytesSent(localHttp, prefillUrl), openRooms(localHttp, prefillUrl), openRooms(localHttp, decodeUrl)]);
    const now = performance.now();
    samples.push({ at: now, bytes });
    let windowStart = samples[0];
    for (const x of samples) if (x.at <= now - LIVE_WINDOW_MS) windowStart = x;
    const seen = { bytesMoving: bytes - windowStart.bytes, prefillRooms, decodeRooms };
    if (seen.bytesMoving > 0 && prefillRooms > 0 && decodeRooms > 0) return seen;
    if (now > deadline) throw new Error(`no live transfer within ${LIVE_WAIT_MS} ms; last seen ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A failed request failed cleanly: a 5xx with a message (never a 200 with other text, never a 4xx). */
function assertCleanFailure(r: { status: number; body: any }): void {
  assert.ok(r.status >= 500 && r.status <= 599, `a 5xx: ${r.status} ${JSON.stringify(r.body)}`);
  assert.ok(r.body.error?.message, JSON.stringify(r.body));
}

describe('PD failures', () => {
  let cluster: Cluster;
  let colocated: NodeHandle;

  before(async () => {
    cluster = await startCluster('tcp', ['--max-retries', '2']);
    colocated = await startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath });
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  const expected = async (text: string): Promise<number[]> => (await postJson(`${colocated.url}/generate`, { text, sampling_params: SAMPLING })).body.output_ids;

  test('decode killed mid-transfer: prefill frees the rooms, every client gets the right text or a clean 5xx, other requests succeed', async (t) => {
    // The WASM kernel: the kill waits for a live transfer rather than for a slow prefill, and the
    // requests it hits are computed again for their retry.
    const prefill = await cluster.addNode('prefill', ['--chunked-prefill-size', '64']);
    const doomed = await cluster.addNode('decode');
    const survivor = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, doomed, survivor]);
    const prompts = Array.from({ length: 6 }, (_, i) => `${i} ${SLOW_PROMPT}`);
    const answers = prompts.map((text) => postJson(`${cluster.router.url}/generate`, { text, sampling_params: SAMPLING }, AbortSignal.timeout(60_000)));
    const live = await liveTransfer(prefill.url, doomed.url);
    await killProcess(doomed);
    const transferred = metricValue(await (await fetch(`${prefill.url}/metrics`)).text(), 'pd_node_kv_transfer_rooms_total');
    const results = await Promise.all(answers);
    // The kill landed mid-transfer: rooms' KV had started to move, the dead node still waited for
    // some, and not every room had been transferred by then.
    assert.ok(live.bytesMoving > 0 && live.prefillRooms > 0 && live.decodeRooms > 0, JSON.stringify(live));
    assert.ok(transferred < prompts.length, `rooms transferred at the kill: ${transferred} of ${prompts.length}`);
    // It cost requests: they were retried on the surviving pair or failed.
    const retries = metricValue(await (await fetch(`${cluster.router.url}/metrics`)).text(), 'pd_node_router_retries_total');
    const failed = results.filter((r) => r.status !== 200);
    t.diagnostic(`at the kill: ${JSON.stringify(live)}, ${transferred} of ${prompts.length} rooms transferred; then ${retries} retries, ${failed.length} failures`);
    assert.ok(retries + failed.length > 0, `retries ${retries}, failures ${failed.length}`);
    // Every client got an answer, never a hang: the right text, or a clean failure.
    assert.ok(results.some((r) => r.status === 200), JSON.stringify(results.map((r) => r.status)));
    for (let i = 0; i < results.length; i++) {
      if (results[i].status === 200) assert.deepEqual(results[i].body.output_ids, await expected(prompts[i]));
      else assertCleanFailure(results[i]);
    }
    await waitForFreePool(prefill.url, 5000);
    await waitForFreePool(survivor.url, 5000);
    await cluster.kill(prefill);
    await cluster.kill(survivor);
    await cluster.waitForNodes([]);
  });

  test('prefill killed mid-transfer: decode fails the room and frees it, stays healthy, the router moves on', async () => {
    const doomed = await cluster.addNode('prefill', ['--kernel', 'js', '--chunked-prefill-size', '32']);
    const decode = await cluster.addNode('decode');
    await cluster.waitForNodes([doomed, decode]);
    const answer = postJson(`${cluster.router.url}/generate`, { text: SLOW_PROMPT, sampling_params: SAMPLING }, AbortSignal.timeout(30_000));
    // The moment: decode waits for the room's KV while prefill computes the claimed prompt, chunk by
    // chunk, each chunk's pages written as it completes.
    const deadline = performance.now() + LIVE_WAIT_MS;
    let seen: { prefillRunning: number; decodeRooms: number } = { prefillRunning: 0, decodeRooms: 0 };
    while (seen.prefillRunning === 0 || seen.decodeRooms === 0) {
      if (performance.now() > deadline) throw new Error(`prefill never computed a claimed room: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      const [p, d] = await Promise.all([getJson(`${doomed.url}/get_server_info`), getJson(`${decode.url}/get_server_info`)]);
      seen = { prefillRunning: p.scheduler_stats.running, decodeRooms: d.scheduler_stats.pd_rooms };
    }
    await killProcess(doomed);
    const result = await answer;
    assertCleanFailure(result);
    // The KV never all arrived: decode counts no finished transfer, so the kill came mid-transfer.
    assert.equal(metricValue(await (await fetch(`${decode.url}/metrics`)).text(), 'pd_node_kv_transfer_rooms_total'), 0);
    // --disaggregation-peer-timeout 1: decode declares the prefill node lost and frees the room.
    await waitForFreePool(decode.url, 5000);
    const health = await fetch(`${decode.url}/health`);
    assert.equal(health.status, 200);
    // A new prefill node joins; the dead one is out of the router's pools, so requests succeed.
    const prefill = await cluster.addNode('prefill');
    await cluster.waitForNodes([prefill, decode]);
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${cluster.router.url}/generate`, { text: `after ${i}`, sampling_params: SAMPLING });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.output_ids, await expected(`after ${i}`));
    }
    await waitForFreePool(decode.url);
    await waitForFreePool(prefill.url);
    await cluster.kill(prefill);
    await cluster.kill(decode);
    await cluster.waitForNodes([]);
  });

  test('client disconnect: the abort reaches both nodes and frees their pages', async () => {
    const prefill = await cluster.addNode('prefill');
    const decode = await cluster.addNode('decode', ['--kernel', 'js']);
    await cluster.waitForNodes([prefill, decode]);
    const controller = new AbortController();
    const res = await fetch(`${cluster.router.url}/generate`, {
      method: 'POST',
      body: JSON.stringify({ text: SLOW_PROMPT, stream: true, sampling_params: { temperature: 0, max_new_tokens: 1500, ignore_eos: true } }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // the stream is running
    controller.abort();
    await waitForFreePool(decode.url, 5000);
    await waitForFreePool(prefill.url, 5000);
    await cluster.kill(prefill);
    await cluster.kill(decode);
    await cluster.waitForNodes([]);
  });
});

describe('PD rooms and handshake, nodes addressed directly', () => {
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let otherModel: string;

  before(async () => {
    otherModel = mkdtempSync(join(tmpdir(), 'pd-other-model-'));
    genModel({ outDir: join(otherModel, 'm'), preset: 'tiny', seed: 7 });
    [prefill, decode] = await Promise.all([
      startProcess(['--role', 'prefill', '--port', '0', '--disaggregation-bootstrap-port', '0', '--disaggregation-bootstrap-timeout', '1', '--log-level', 'info']),
      startProcess(['--role', 'decode', '--port', '0', '--disaggregation-bootstrap-timeout', '1', '--disaggregation-transfer-timeout', '1', '--log-level', 'info']),
    ]);
  });
  after(async () => {
    await stopAll();
    rmSync(otherModel, { recursive: true, force: true });
  });

  const body = (room: string, port = prefill.bootstrapPort) =>
    `{"text":"hello","sampling_params":{"max_new_tokens":4},"bootstrap_host":"127.0.0.1","bootstrap_port":${port},"bootstrap_room":${room}}`;

  test('bootstrap_room must be an integer in [0, 2^63); exact 63-bit values are kept', async () => {
    for (const room of ['9223372036854775808', '-1', '1.5', '"abc"', '99999999999999999999']) {
      const r = await postJson(`${decode.url}/generate`, body(room));
      assert.equal(r.status, 400, `${room}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error.message, /bootstrap_room/);
    }
    const missing = await postJson(`${decode.url}/generate`, { text: 'x', bootstrap_room: '5' });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /go together/);
  });

  test('an abandoned room times out on both sides, a duplicate room in flight is refused, nothing leaks', async () => {
    const room = '9223372036854775807';
    // Decode waits for a prefill answer that never comes (prefill got no request for this room).
    const first = postJson(`${decode.url}/generate`, body(room));
    await new Promise((r) => setTimeout(r, 100));
    const duplicate = await postJson(`${decode.url}/generate`, body(room));
    assert.equal(duplicate.status, 400);
    assert.match(duplicate.body.error.message, /already in flight/);
    // Prefill got a request for a room no decode node claims: it waits unclaimed (no pages, not
    // computed) and fails at the bootstrap timeout.
    const lonely = postJson(`${prefill.url}/generate`, body('12345'));
    await new Promise((r) => setTimeout(r, 300));
    const pending = (await (await fetch(`${prefill.url}/get_server_info`)).json()) as { scheduler_stats: { pd_rooms: number; free_pages: number; total_pages: number } };
    assert.equal(pending.scheduler_stats.pd_rooms, 1);
    assert.equal(pending.scheduler_stats.free_pages, pending.scheduler_stats.total_pages, 'an unclaimed room holds no pages');
    const unclaimed = await lonely;
    assert.equal(unclaimed.status, 504, JSON.stringify(unclaimed.body));
    assert.match(unclaimed.body.error.message, /no decode node claimed bootstrap_room 12345 within 1 s/);
    const timedOut = await first;
    assert.equal(timedOut.status, 504, JSON.stringify(timedOut.body));
    assert.match(timedOut.body.error.message, /prefill node did not deliver the KV cache within 2 s/);
    await waitForFreePool(prefill.url);
    await waitForFreePool(decode.url);
  });

  test('a decode node on a different model is refused with a clear error, never wrong text', async () => {
    const other = await startProcess(['--role', 'decode', '--port', '0', '--model-path', join(otherModel, 'm'), '--log-level', 'info']);
    const room = '77';
    const [p, d] = await Promise.all([postJson(`${prefill.url}/generate`, body(room)), postJson(`${other.url}/generate`, body(room))]);
    assert.equal(d.status, 502, JSON.stringify(d.body));
    assert.match(d.body.error.message, /model mismatch: decode node serves .* prefill node serves/);
    // Prefill's room was never claimed (the handshake refused it): its request fails too, uncomputed.
    assert.equal(p.status, 502, JSON.stringify(p.body));
    await waitForFreePool(prefill.url);
    await waitForFreePool(other.url);
    await killProcess(other, 'SIGTERM');
  });
});
