/**
 * PD failure scenarios on real processes (tcp backend): a node SIGKILLed mid-request, a client
 * that goes away, bad and abandoned rooms, a decode node on another model. After each, the pools of
 * the surviving nodes are whole again and other requests still succeed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { genModel } from '../../src/model/gen-model.js';
import { startNode, type NodeHandle } from '../../src/index.js';
import { killProcess, postJson, startProcess, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from './cluster.js';

/** Long enough that the JS-kernel prefill node takes a good fraction of a second on it. */
const SLOW_PROMPT = 'A long prompt for the slow prefill node, so that it can be killed while it works. '.repeat(40);
const SAMPLING = { temperature: 0, max_new_tokens: 16, ignore_eos: true };

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

  test('decode killed mid-transfer: prefill frees the room, the client gets an answer, other requests succeed', async () => {
    const prefill = await cluster.addNode('prefill', ['--kernel', 'js', '--chunked-prefill-size', '64']);
    const doomed = await cluster.addNode('decode');
    const survivor = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, doomed, survivor]);
    const prompts = Array.from({ length: 6 }, (_, i) => `${i} ${SLOW_PROMPT}`);
    const answers = prompts.map((text) => postJson(`${cluster.router.url}/generate`, { text, sampling_params: SAMPLING }, AbortSignal.timeout(30_000)));
    await new Promise((r) => setTimeout(r, 300));
    await killProcess(doomed);
    const results = await Promise.all(answers);
    // Every client got an answer (a retry on the surviving pair, or an error), never a hang.
    assert.ok(results.some((r) => r.status === 200), JSON.stringify(results.map((r) => r.status)));
    for (let i = 0; i < results.length; i++) {
      if (results[i].status === 200) assert.deepEqual(results[i].body.output_ids, await expected(prompts[i]));
      else assert.ok(results[i].body.error?.message, JSON.stringify(results[i].body));
    }
    await waitForFreePool(prefill.url, 5000);
    await waitForFreePool(survivor.url, 5000);
    await cluster.kill(prefill);
    await cluster.kill(survivor);
    await cluster.waitForNodes([]);
  });

  test('prefill killed mid-prefill: decode fails the room and frees it, stays healthy, the router moves on', async () => {
    const doomed = await cluster.addNode('prefill', ['--kernel', 'js', '--chunked-prefill-size', '32']);
    const decode = await cluster.addNode('decode');
    await cluster.waitForNodes([doomed, decode]);
    const answer = postJson(`${cluster.router.url}/generate`, { text: SLOW_PROMPT, sampling_params: SAMPLING }, AbortSignal.timeout(30_000));
    await new Promise((r) => setTimeout(r, 300));
    await killProcess(doomed);
    const result = await answer;
    assert.notEqual(result.status, 200, 'no other prefill node: the request fails');
    assert.ok(result.body.error?.message, JSON.stringify(result.body));
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
