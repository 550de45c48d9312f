/**
 * Issue 9, shm backend (one host, so no namespaces: the only fault is a hung peer): one of two
 * prefill nodes is stopped (SIGSTOP) while KV transfers are live, for 3.5 peer timeouts, then
 * continued, twice; the healthy one's rooms meanwhile reuse the pages decode frees. Same judgement as the
 * tcp cases (fault-scenario.ts): no wrong text, timely 5xx, every page back, requests succeed again.
 * Needs no root. Nodes die with the test process (startLocalNode); pools they leave are swept.
 */
import { after, describe, test } from 'node:test';
import { sweepStaleShmRegions } from '../../native/shm-names.js';
import { stopChildNode, type ChildNode } from '../../src/cli/child-node.js';
import { pause, resume, startLocalNode } from './fault-net.js';
import { assertFaultReport, CHUNK_FLAGS, colocatedTexts, faultPrompts, PEER_TIMEOUT_S, runFaultScenario, waitForRouterNodes } from './fault-scenario.js';
import { localHttp } from './timed-fetch.js';

/** Startup, references, warm-up, the fault, recovery and the pool checks: well under this on a busy 2-core machine. */
const CASE_TIMEOUT_MS = 150_000;

describe('faults on one host (shm)', () => {
  const started: ChildNode[] = [];
  const start = async (args: string[]): Promise<ChildNode> => {
    const node = await startLocalNode(['--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...args]);
    started.push(node);
    return node;
  };
  after(async () => {
    for (const node of started) {
      resume(node);
      await stopChildNode(node, 'SIGTERM', 5_000);
    }
    // A node killed on a failure path cannot unlink its pool: remove what its death left.
    sweepStaleShmRegions();
  });

  test('prefill stopped (SIGSTOP) mid-transfer for 3.5 peer timeouts, then continued; twice', { timeout: CASE_TIMEOUT_MS }, async () => {
    const prompts = faultPrompts();
    const expected = await colocatedTexts(prompts);
    // One pair only: a retry could only go to the same broken pair, so none (the error bound is one attempt's).
    const router = await start(['--role', 'router', '--registry-port', '0', '--registry-poll-ms', '100', '--max-retries', '0']);
    const pd = ['--registry-url', router.registryUrl!, '--disaggregation-transfer-backend', 'shm', '--disaggregation-peer-timeout', String(PEER_TIMEOUT_S), ...CHUNK_FLAGS];
    const [prefill, healthy, decode] = await Promise.all([
      start(['--role', 'prefill', '--disaggregation-bootstrap-port', '0', ...pd]),
      start(['--role', 'prefill', '--disaggregation-bootstrap-port', '0', ...pd]),
      start(['--role', 'decode', ...pd]),
    ]);
    await waitForRouterNodes(localHttp, router.url, [prefill.url, healthy.url, decode.url]);
    const deployment = { http: localHttp, routerUrl: router.url, prefillUrl: prefill.url, decodeUrl: decode.url, nodes: { prefill: prefill.url, healthy: healthy.url, decode: decode.url } };
    const report = await runFaultScenario(deployment, { name: 'shm SIGSTOP prefill', inject: async () => pause(prefill), undo: async () => resume(prefill) }, prompts, expected);
    console.log(`fault report ${JSON.stringify(report)}`);
    assertFaultReport(report);
  });
});
