/**
 * Two prefill and two decode real nodes: a router per policy, with the nodes given by flag
 * (`--prefill URL PORT --decode URL`, as in SGLang's router command), spreads requests over both
 * nodes of each role and every answer equals colocated output. Then the registry: a node that joins
 * at run time takes requests without a router restart, and one that leaves is taken out. Idle
 * healthy nodes are not declared lost after a burst.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { getJson, postJson, startProcess, stopAll, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from './cluster.js';

const SAMPLING = { temperature: 0, max_new_tokens: 8, ignore_eos: true };

/** Requests a node has finished (its own Prometheus counter). */
async function finished(node: NodeProcess): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = /^pd_node_requests_total\{outcome="finished"[^}]*\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('two prefill and two decode nodes', () => {
  let cluster: Cluster;
  let nodes: NodeProcess[];
  let colocated: NodeHandle;

  before(async () => {
    cluster = await startCluster('tcp');
    nodes = await Promise.all([cluster.addNode('prefill'), cluster.addNode('prefill'), cluster.addNode('decode'), cluster.addNode('decode')]);
    colocated = await startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath });
    await cluster.waitForNodes(nodes);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  for (const policy of ['random', 'round_robin', 'power_of_two', 'least_load']) {
    test(`policy ${policy}: both nodes of each role serve, outputs equal colocated`, async () => {
      const [p0, p1, d0, d1] = nodes;
      const router = await startProcess([
        '--role', 'router', '--pd-disaggregation', '--policy', policy, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info',
        '--registry-url', cluster.router.registryUrl!,
        '--prefill', p0.url, String(p0.bootstrapPort), '--prefill', p1.url, String(p1.bootstrapPort), '--decode', d0.url, '--decode', d1.url,
      ]);
      const before = await Promise.all(nodes.map(finished));
      const prompts = Array.from({ length: 16 }, (_, i) => `${policy} request ${i}`);
      // Sent in pairs, so least_load sees load on the busy node.
      for (let i = 0; i < prompts.length; i += 2) {
        const pair = prompts.slice(i, i + 2);
        const [pd, local] = await Promise.all([
          Promise.all(pair.map((text) => postJson(`${router.url}/generate`, { text, sampling_params: SAMPLING }))),
          Promise.all(pair.map((text) => postJson(`${colocated.url}/generate`, { text, sampling_params: SAMPLING }))),
        ]);
        for (let j = 0; j < pair.length; j++) {
          assert.equal(pd[j].status, 200, JSON.stringify(pd[j].body));
          assert.deepEqual(pd[j].body.output_ids, local[j].body.output_ids);
        }
      }
      const served = (await Promise.all(nodes.map(finished))).map((n, i) => n - before[i]);
      assert.equal(served[0] + served[1], prompts.length, `prefill counts ${served}`);
      assert.equal(served[2] + served[3], prompts.length, `decode counts ${served}`);
      for (const [i, n] of served.entries()) assert.ok(n > 0, `node ${i} served nothing under ${policy}: ${served}`);
      router.child.kill('SIGTERM');
      await router.exited;
    });
  }

  test('after a burst, idle healthy nodes are not declared lost (no "stopped answering")', async () => {
    const burst = Array.from({ length: 8 }, (_, i) => postJson(`${cluster.router.url}/generate`, { text: `burst ${i}`, sampling_params: SAMPLING }));
    for (const r of await Promise.all(burst)) assert.equal(r.status, 200, JSON.stringify(r.body));
    // Idle for three peer timeouts (1 s, cluster.ts): before the fix each prefill node declared each
    // decode node lost once it stopped pinging.
    await new Promise((r) => setTimeout(r, 3_500));
    for (const node of nodes) assert.deepEqual(node.logs.filter((l) => l.includes('stopped answering')), [], node.url);
  });

  test('a node joining at run time takes requests; one leaving is taken out', async () => {
    const joined = await cluster.addNode('decode');
    await cluster.waitForNodes([...nodes, joined]);
    const before = await finished(joined);
    for (let i = 0; i < 6; i++) {
      const r = await postJson(`${cluster.router.url}/generate`, { text: `join ${i}`, sampling_params: SAMPLING });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    assert.ok((await finished(joined)) > before, 'the new decode node served requests');
    await cluster.kill(joined);
    await cluster.waitForNodes(nodes);
    for (let i = 0; i < 4; i++) {
      const r = await postJson(`${cluster.router.url}/generate`, { text: `left ${i}`, sampling_params: SAMPLING });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const info = await getJson(`${cluster.router.url}/get_server_info`);
    assert.ok(!(info.router.nodes as { url: string }[]).some((n) => n.url === joined.url));
  });
});
