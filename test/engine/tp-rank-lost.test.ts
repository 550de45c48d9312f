/**
 * A `--tp` rank thread that fails in the middle of a step loses the engine, whether it ends without
 * reaching its error handling (`process.exit` inside the rank) or throws (faults preloaded by
 * rank-exit-hook.cts): rank 0 learns it at once through the barrier (not after the phase bound,
 * TP_PHASE_TIMEOUT_MS), the request fails with the reason, and the prefill node stops, so the router
 * and its decode peer see it gone and the decode node's pages come back. A node that kept serving
 * would answer every later request with an error while still listed.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { withTimeout } from '../../src/util/timeout.js';
import { postJson, stopAll, waitForFreePool, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';

const HOOK = fileURLToPath(new URL('./rank-exit-hook.cjs', import.meta.url));
/** How long the dead node may take to close and exit: far below the phase bound (TP_PHASE_TIMEOUT_MS, 120 s) it must not wait out. */
const EXIT_MS = 30_000;

let cluster: Cluster;
let decode: NodeProcess;

before(async () => {
  cluster = await startCluster('tcp');
  decode = await cluster.addNode('decode');
});
after(() => stopAll());

/** A prefill node at --tp 2 whose rank 1 meets `action` (rank-exit-hook.cts) at its third barrier arrival: inside the first forward step. */
async function faultyPrefill(action: string): Promise<NodeProcess> {
  const prefill = await cluster.addNode('prefill', ['--tp', '2'], { prefix: ['env', `NODE_OPTIONS=--require "${HOOK}"`, `PD_TEST_RANK_EXIT=1:3:${action}`], where: `with rank 1 set to ${action} mid-step` });
  await cluster.waitForNodes([prefill, decode]);
  return prefill;
}

/** A PD request through the router fails naming `reason`; the prefill node exits with status 1 after logging it; the decode node's pool is whole and the router lists only it. */
async function expectLost(prefill: NodeProcess, fault: RegExp, reason: RegExp): Promise<void> {
  const body = { text: 'A rank thread that fails in the middle of a step.', sampling_params: { temperature: 0, max_new_tokens: 8 } };
  const res = await postJson(`${cluster.router.url}/generate`, body);
  const logs = (): string => prefill.logs.join('\n');
  assert.ok(res.status >= 500 && reason.test(JSON.stringify(res.body)), `the request failed naming the rank: ${res.status} ${JSON.stringify(res.body)}`);
  assert.match(logs(), fault, 'the fault happened mid-step');
  assert.equal(await withTimeout(prefill.exited, EXIT_MS, 'the prefill node to exit'), 1, logs());
  assert.match(logs().split('\n').filter((l) => l.includes('"level":60')).join('\n'), reason, 'the node stopped naming the rank');
  assert.doesNotMatch(logs(), /did not reach the barrier/, 'rank 0 did not wait for the phase bound');
  await waitForFreePool(decode.url, 10_000);
  await cluster.waitForNodes([decode]);
}

test('a --tp rank that exits mid-step (skipping its catch) fails the request at once and stops its node; the decode peer frees its pages', async () => {
  const prefill = await faultyPrefill('7');
  await expectLost(prefill, /rank-exit-hook: rank 1 calls process\.exit\(7\) at barrier arrival 3/, /rank 1 exited \(code 7\) in the middle of its work/);
});

test('a --tp rank that throws mid-step fails the request and stops its node, not only that step', async () => {
  const prefill = await faultyPrefill('throw');
  await expectLost(prefill, /rank-exit-hook: rank 1 throws at barrier arrival 3/, /rank 1: Error: an injected fault in the rank/);
});
