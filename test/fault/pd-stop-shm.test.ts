/**
 * Issue 9, shm backend (one host, so no namespaces: the only fault is a hung peer): the prefill
 * process is stopped (SIGSTOP) while KV transfers are live, for 3.5 peer timeouts, then continued.
 * Same judgement as the tcp cases (fault-scenario.ts): no wrong text, timely 5xx, every page back,
 * requests succeed again. A second, healthy prefill node reuses the pages decode frees.
 */
import { after, before, describe, test } from 'node:test';
import { sweepStaleShmRegions } from '../../native/shm-names.js';
import { stopAll } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';
import { pause, resume } from './fault-net.js';
import { assertFaultReport, CHUNK_FLAGS, colocatedTexts, faultPrompts, runFaultScenario } from './fault-scenario.js';
import { localHttp } from './timed-fetch.js';

/** Startup, warm-up, the fault, recovery and the pool checks: well under this on a busy 2-core machine. */
const CASE_TIMEOUT_MS = 150_000;

describe('faults on one host (shm)', () => {
  const prompts = faultPrompts();
  let expected: string[];
  let cluster: Cluster;

  before(async () => {
    expected = await colocatedTexts(prompts);
    // One pair only: a retry could only go to the same broken pair, so none (the error bound is one attempt's).
    cluster = await startCluster('shm', ['--max-retries', '0']);
  });
  after(async () => {
    await stopAll();
    // A node killed on a failure path cannot unlink its pool: remove what its death left.
    sweepStaleShmRegions();
  });

  test('prefill stopped (SIGSTOP) mid-transfer for 3.5 peer timeouts, then continued', { timeout: CASE_TIMEOUT_MS }, async () => {
    const [prefill, healthy, decode] = await Promise.all([cluster.addNode('prefill', CHUNK_FLAGS), cluster.addNode('prefill', CHUNK_FLAGS), cluster.addNode('decode', CHUNK_FLAGS)]);
    await cluster.waitForNodes([prefill, healthy, decode]);
    const deployment = { http: localHttp, routerUrl: cluster.router.url, prefillUrl: prefill.url, decodeUrl: decode.url, nodes: { prefill: prefill.url, healthy: healthy.url, decode: decode.url } };
    try {
      const report = await runFaultScenario(deployment, { name: 'shm SIGSTOP prefill', inject: async () => pause(prefill), undo: async () => resume(prefill) }, prompts, expected);
      console.log(`fault report ${JSON.stringify(report)}`);
      assertFaultReport(report);
    } finally {
      resume(prefill);
    }
  });
});
