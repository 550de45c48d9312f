/**
 * Issue 9, tcp backend across network namespaces: router, two prefill nodes and a decode node each in
 * a namespace of their own (fault-net.ts), the client in another. While KV transfers are live, (a)
 * one prefill node and the decode node are partitioned, (b) that prefill process is stopped
 * (SIGSTOP), each for 3.5 peer timeouts, then undone, twice; the healthy prefill node's rooms meanwhile
 * reuse the pages decode frees (see Deployment in fault-scenario.ts). Every HTTP 200 must carry a
 * colocated node's greedy text, failures must be timely 5xx, every page must come back and requests
 * must succeed again (fault-scenario.ts). Each case gets fresh nodes.
 */
import { after, before, describe, test } from 'node:test';
import type { ChildNode } from '../../src/cli/child-node.js';
import { stopChildNode } from '../../src/cli/child-node.js';
import type { FetchAgent } from './fetch-agent-client.js';
import { FaultNet, faultNetUnavailable, pause, resume } from './fault-net.js';
import { assertFaultReport, CHUNK_FLAGS, colocatedTexts, faultPrompts, PEER_TIMEOUT_S, runFaultScenario, waitForRouterNodes, type Fault } from './fault-scenario.js';

/** Startup, warm-up, the fault, recovery and the pool checks: well under this on a busy 2-core machine. */
const CASE_TIMEOUT_MS = 150_000;

describe('faults across namespaces (tcp)', { skip: faultNetUnavailable() ?? false }, () => {
  const prompts = faultPrompts();
  let expected: string[];
  let net: FaultNet;
  let client: FetchAgent;

  before(async () => {
    expected = await colocatedTexts(prompts);
    net = await FaultNet.create(['client', 'router', 'prefill', 'healthy', 'decode']);
    client = await net.agent('client');
  });
  after(async () => {
    await net?.cleanup();
  });

  async function deploy(): Promise<{ router: ChildNode; prefill: ChildNode; healthy: ChildNode; decode: ChildNode }> {
    const at = (name: string) => ['--host', net.host(name).address, '--port', '0'];
    // One pair only: a retry could only go to the same broken pair, so none (the error bound is one attempt's).
    const router = await net.startNode('router', ['--role', 'router', ...at('router'), '--registry-port', '0', '--registry-poll-ms', '100', '--max-retries', '0', '--log-level', 'info']);
    const pd = ['--registry-url', router.registryUrl!, '--disaggregation-transfer-backend', 'tcp', '--disaggregation-peer-timeout', String(PEER_TIMEOUT_S), '--log-level', 'info', ...CHUNK_FLAGS];
    const [prefill, healthy, decode] = await Promise.all([
      net.startNode('prefill', ['--role', 'prefill', ...at('prefill'), '--disaggregation-bootstrap-port', '0', ...pd]),
      net.startNode('healthy', ['--role', 'prefill', ...at('healthy'), '--disaggregation-bootstrap-port', '0', ...pd]),
      net.startNode('decode', ['--role', 'decode', ...at('decode'), ...pd]),
    ]);
    await waitForRouterNodes(client, router.url, [prefill.url, healthy.url, decode.url]);
    return { router, prefill, healthy, decode };
  }

  async function runCase(makeFault: (nodes: { prefill: ChildNode; decode: ChildNode }) => Fault): Promise<void> {
    const nodes = await deploy();
    try {
      const { router, prefill, healthy, decode } = nodes;
      const deployment = { http: client, routerUrl: router.url, prefillUrl: prefill.url, decodeUrl: decode.url, nodes: { prefill: prefill.url, healthy: healthy.url, decode: decode.url } };
      const report = await runFaultScenario(deployment, makeFault(nodes), prompts, expected);
      console.log(`fault report ${JSON.stringify(report)}`);
      assertFaultReport(report);
    } finally {
      for (const node of Object.values(nodes)) {
        resume(node);
        await stopChildNode(node, 'SIGTERM', 5_000);
      }
    }
  }

  test('(a) prefill<->decode partitioned mid-transfer for 3.5 peer timeouts, then healed; twice', { timeout: CASE_TIMEOUT_MS }, () =>
    runCase(() => ({ name: 'tcp partition prefill<->decode', inject: () => net.partition('prefill', 'decode'), undo: () => net.heal() })),
  );

  test('(b) prefill stopped (SIGSTOP) mid-transfer for 3.5 peer timeouts, then continued; twice', { timeout: CASE_TIMEOUT_MS }, () =>
    runCase(({ prefill }) => ({ name: 'tcp SIGSTOP prefill', inject: async () => pause(prefill), undo: async () => resume(prefill) })),
  );
});
