/**
 * PD end to end over the verbs backend inside the Soft-RoCE VM: a router hosting the registry, a
 * prefill node and a decode node with `--disaggregation-transfer-backend verbs` on rxe0; greedy
 * output through the router equals a colocated node's token for token, the KV really moved by RDMA
 * (decode's transfer metrics), and both pools are whole again; a decode node killed while prefill
 * is writing a long prompt's pages fails that room on the prefill node (its pages come back), the
 * client gets an error, not a hang, and a new decode node serves the next request. Few requests:
 * JavaScript runs 13-20x slower in the VM. Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { getJson, killProcess, postJson, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';
import { metricValue } from '../server/support.js';
import { waitFor } from '../helpers/wait.js';
import { skipOutsideVm } from './rxe-device.js';

const SHORT = 'Let me tell you a lonnng story ';
const MULTI_PAGE = 'The river ran past the old mill, and the miller counted every sack of grain twice. '.repeat(3);
/** Many chunks of --chunked-prefill-size 64: prefill writes pages for a good while. */
const LONG = 'A long prompt, so that prefill is still writing its pages when the decode node dies. '.repeat(24);
/** Node start-up and requests are slow under emulation. */
const SLOW_MS = 120_000;

describe('PD over verbs on rxe0', { skip: skipOutsideVm }, () => {
  let cluster: Cluster;
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let colocated: NodeHandle;

  before(async () => {
    cluster = await startCluster('verbs');
    [prefill, decode, colocated] = await Promise.all([
      cluster.addNode('prefill', ['--chunked-prefill-size', '64']),
      cluster.addNode('decode'),
      startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath }),
    ]);
    await cluster.waitForNodes([prefill, decode], SLOW_MS);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  const generate = (url: string, text: string) =>
    postJson(`${url}/generate`, { text, sampling_params: { temperature: 0, max_new_tokens: 12, ignore_eos: true } }, AbortSignal.timeout(SLOW_MS));

  test('greedy output equals colocated: short and multi-page prompts', async () => {
    for (const text of [SHORT, MULTI_PAGE]) {
      const pd = await generate(cluster.router.url, text);
      const local = await generate(colocated.url, text);
      assert.equal(pd.status, 200, JSON.stringify(pd.body));
      assert.deepEqual(pd.body.output_ids, local.body.output_ids);
      assert.equal(pd.body.text, local.body.text);
    }
  });

  test('the KV moved over verbs and both pools are whole again', async (t) => {
    // the decode node published a verbs endpoint (its pool registered on rxe0)
    const listening = decode.logs.find((line) => line.includes('KV receiver listening'));
    assert.ok(listening, 'decode logged its KV endpoint');
    const { endpoint } = JSON.parse(listening) as { endpoint: { backend: string; devices: { name: string }[] } };
    assert.deepEqual([endpoint.backend, endpoint.devices.map((d) => d.name)], ['verbs', ['rxe0']]);
    const metrics = await (await fetch(`${decode.url}/metrics`)).text();
    const value = (name: string): number => metricValue(metrics, name);
    const rooms = value('pd_node_kv_transfer_rooms_total');
    const runs = value('pd_node_kv_transfer_runs_total');
    t.diagnostic(`decode: ${rooms} rooms, ${runs} runs (RDMA WRITEs on one device), ${value('pd_node_kv_transfer_bytes_total')} bytes`);
    assert.ok(rooms >= 2 && runs > 0, `rooms ${rooms}, runs ${runs}`);
    await waitForFreePool(prefill.url, 30_000);
    await waitForFreePool(decode.url, 30_000);
  });

  test('decode killed mid-transfer: prefill fails the room and frees its pages; a new decode node serves', async (t) => {
    const answer = generate(cluster.router.url, LONG);
    // Kill the decode node once prefill holds the room's pages (it is computing and writing chunks).
    await waitFor(async () => (await getJson(`${prefill.url}/get_server_info`)).scheduler_stats, (s) => s.free_pages < s.total_pages, "prefill holding the room's pages", SLOW_MS);
    await killProcess(decode);
    const result = await answer;
    t.diagnostic(`client got HTTP ${result.status}: ${JSON.stringify(result.body).slice(0, 300)}`);
    assert.notEqual(result.status, 200, 'the only decode node died: the request fails');
    assert.ok(result.body.error?.message, JSON.stringify(result.body));
    await waitForFreePool(prefill.url, SLOW_MS);
    decode = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, decode], SLOW_MS);
    const pd = await generate(cluster.router.url, SHORT);
    const local = await generate(colocated.url, SHORT);
    assert.equal(pd.status, 200, JSON.stringify(pd.body));
    assert.deepEqual(pd.body.output_ids, local.body.output_ids);
    await waitForFreePool(decode.url, SLOW_MS);
  });
});
