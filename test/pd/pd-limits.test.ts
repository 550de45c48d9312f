/**
 * PD under limits (DESIGN section 7): a decode pool far smaller than the demand drains its
 * preallocation queue instead of getting stuck; per-room state is bounded; a page-size mismatch is
 * refused at the handshake instead of producing wrong text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { postJson, startProcess, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from './cluster.js';

const SAMPLING = { temperature: 0, max_new_tokens: 16, ignore_eos: true };

describe('PD limits', () => {
  let cluster: Cluster;
  let colocated: NodeHandle;
  let prefill: NodeProcess;
  let decode: NodeProcess;

  before(async () => {
    cluster = await startCluster('tcp');
    // 8 pages of 16 tokens: each request below needs 4-5 pages, so at most two fit at once.
    [prefill, decode, colocated] = await Promise.all([
      cluster.addNode('prefill'),
      cluster.addNode('decode', ['--max-total-tokens', '128']),
      startNode({ port: 0, logLevel: 'silent' }),
    ]);
    await cluster.waitForNodes([prefill, decode]);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  test('a full decode pool queues preallocation and drains it: every request finishes', async () => {
    const prompts = Array.from({ length: 10 }, (_, i) => `Request ${i} asks for enough pages to crowd the tiny decode pool, twice over. `.repeat(1));
    const [pd, local] = await Promise.all([
      Promise.all(prompts.map((text) => postJson(`${cluster.router.url}/generate`, { text, sampling_params: SAMPLING }))),
      Promise.all(prompts.map((text) => postJson(`${colocated.url}/generate`, { text, sampling_params: SAMPLING }))),
    ]);
    const demand = local.reduce((n, r) => n + r.body.meta_info.prompt_tokens + 16, 0);
    assert.ok(demand > 4 * 128, `demand ${demand} tokens vs a 128-token pool`);
    for (let i = 0; i < prompts.length; i++) {
      assert.equal(pd[i].status, 200, JSON.stringify(pd[i].body));
      assert.deepEqual(pd[i].body.output_ids, local[i].body.output_ids);
    }
    await waitForFreePool(decode.url);
    await waitForFreePool(prefill.url);
  });
});

describe('PD room bounds and layout handshake, nodes addressed directly', () => {
  let prefill: NodeProcess;
  let decode: NodeProcess;

  before(async () => {
    [prefill, decode] = await Promise.all([
      startProcess(['--role', 'prefill', '--port', '0', '--disaggregation-bootstrap-port', '0', '--log-level', 'info']),
      // max-running-requests 1: at most 4 x 1 + 64 = 68 rooms in flight.
      startProcess(['--role', 'decode', '--port', '0', '--max-running-requests', '1', '--disaggregation-bootstrap-timeout', '1', '--disaggregation-transfer-timeout', '1', '--log-level', 'info']),
    ]);
  });
  after(stopAll);

  const body = (room: number, port: number | null) =>
    `{"text":"hello","sampling_params":{"max_new_tokens":4},"bootstrap_host":"127.0.0.1","bootstrap_port":${port},"bootstrap_room":${room}}`;

  test('rooms in flight are bounded, per prefill peer and in all; abandoned ones are reclaimed', async () => {
    // Nobody sends these rooms to a prefill node, so they wait on decode until their timeout. Half go
    // to the real prefill node, half to a bootstrap port nobody listens on (port 1).
    const perPeer = 2 * 1 + 32; // decode's cap per prefill peer at --max-running-requests 1
    const waiting = Array.from({ length: perPeer }, (_, i) => postJson(`${decode.url}/generate`, body(1000 + i, prefill.bootstrapPort)));
    await new Promise((r) => setTimeout(r, 300));
    const overPeer = await postJson(`${decode.url}/generate`, body(5000, prefill.bootstrapPort));
    assert.equal(overPeer.status, 503, JSON.stringify(overPeer.body));
    assert.match(overPeer.body.error.message, new RegExp(`decode node holds ${perPeer} rooms for prefill node 127\\.0\\.0\\.1:${prefill.bootstrapPort} \\(cap ${perPeer}\\)`));
    waiting.push(...Array.from({ length: 68 - perPeer }, (_, i) => postJson(`${decode.url}/generate`, body(2000 + i, 1))));
    await new Promise((r) => setTimeout(r, 300));
    const over = await postJson(`${decode.url}/generate`, body(5001, 1));
    assert.equal(over.status, 400, JSON.stringify(over.body));
    assert.match(over.body.error.message, /too many rooms in flight \(68\)/);
    const results = await Promise.all(waiting);
    // the real prefill node answers pings: its rooms time out (504); the silent port is declared lost first (502)
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.slice(0, perPeer).every((s) => s === 504), JSON.stringify(statuses));
    assert.ok(statuses.slice(perPeer).every((s) => s === 502), JSON.stringify(statuses));
    await waitForFreePool(decode.url);
    await waitForFreePool(prefill.url);
  });

  test('a decode node with another page size is refused at the handshake', async () => {
    const other = await startProcess(['--role', 'decode', '--port', '0', '--page-size', '8', '--log-level', 'info']);
    const room = 4242;
    const [, d] = await Promise.all([postJson(`${prefill.url}/generate`, body(room, prefill.bootstrapPort)), postJson(`${other.url}/generate`, body(room, prefill.bootstrapPort))]);
    assert.equal(d.status, 502, JSON.stringify(d.body));
    assert.match(d.body.error.message, /page size mismatch: decode node uses --page-size 8, prefill node 16/);
    await waitForFreePool(prefill.url);
    await waitForFreePool(other.url);
  });
});
