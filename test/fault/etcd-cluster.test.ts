/**
 * Issue 10, membership in etcd with no single point of failure, across network namespaces
 * (fault-net.ts): a 3-member etcd cluster on hosts of its own, a router, a prefill and a decode node
 * all given --registry-url etcd://e1,e2,e3. While requests flow through the router, member e1 is
 * SIGKILLed, then e2 is cut off from the router and the nodes (it keeps its peers, so e2+e3 keep a
 * quorum): no request may fail, a node started meanwhile reaches the router (the router's watch
 * moved to a member that answers), and at the end of the cut, several lease TTLs in, every node's
 * record is in etcd (read through e3). A node whose lease keep-alive stream sat on e2 may lose its
 * lease before gRPC gives up on e2 (etcd-client.ts) and put its record back under a new one: the
 * count of such losses is printed, not asserted (the router keeps an expired node while it answers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChildNode } from '../../src/cli/child-node.js';
import { LEASE_TTL_SECS } from '../../src/membership/etcd-node-registration.js';
import { NODES_PREFIX } from '../../src/membership/etcd-url.js';
import { etcdMissing, etcdUrl, startEtcdCluster, stopEtcd, type EtcdMember } from '../helpers/etcd.js';
import type { FetchAgent } from './fetch-agent-client.js';
import { FaultNet, faultNetUnavailable } from './fault-net.js';
import { Load, type Outcome } from './fault-load.js';
import { PEER_TIMEOUT_S, waitForRouterNodes } from './fault-scenario.js';

const CASE_TIMEOUT_MS = 180_000;
/** Load before the first fault, and after the heal. */
const STRIDE_MS = 3_000;
/** Each fault is held for several lease TTLs: a record whose keep-alives stopped would expire. */
const HOLD_MS = 4 * LEASE_TTL_SECS * 1000;
/**
 * A record whose lease was lost is back within: gRPC keep-alive detection (~6 s, etcd-client.ts), the
 * TTL, and a put retried every second with 2 s deadlines; about 12 s, and a busy host's margin.
 */
const RECORDS_BACK_MS = 30_000;
const SAMPLING = { temperature: 0, max_new_tokens: 8, ignore_eos: true };
const PROMPTS = ['The river', 'A stone lantern', 'Copper meadow signal', 'Harbor thread orbit'];
const CONCURRENCY = 4;
const REQUEST_TIMEOUT_MS = 30_000;
/** Fixed ports: each member has its own network namespace. */
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const MEMBERS = ['e1', 'e2', 'e3'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's log lines about etcd, for a failure message. */
function etcdLines(node: ChildNode): string {
  return node.logs.filter((l) => /etcd|registry|membership/i.test(l)).join('\n');
}

function summary(outcomes: readonly Outcome[]): string {
  const statuses: Record<string, number> = {};
  for (const o of outcomes) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  return JSON.stringify({ requests: outcomes.length, statuses, failures: outcomes.filter((o) => o.status !== 200).slice(0, 3).map((o) => o.text.slice(0, 200)) });
}

describe('membership in a 3-member etcd cluster (namespaces)', { skip: faultNetUnavailable() ?? etcdMissing() ?? false }, () => {
  let net: FaultNet;
  let client: FetchAgent;
  let members: EtcdMember[] = [];

  before(async () => {
    net = await FaultNet.create(['client', 'router', 'prefill', 'decode', 'late', ...MEMBERS]);
    client = await net.agent('client');
    members = await startEtcdCluster(
      MEMBERS.map((name) => ({ name, host: net.host(name).address, clientPort: CLIENT_PORT, peerPort: PEER_PORT, prefix: net.commandIn(name) })),
      client,
    );
  });
  after(async () => {
    await Promise.all(members.map((m) => stopEtcd(m)));
    await net?.cleanup();
  });

  /** httpUrls of the records in etcd, read through member `via` (etcd's JSON gateway). */
  async function recordsVia(via: string): Promise<string[]> {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const end = NODES_PREFIX.slice(0, -1) + String.fromCharCode(NODES_PREFIX.charCodeAt(NODES_PREFIX.length - 1) + 1);
    const r = await client.request({ url: `http://${net.host(via).address}:${CLIENT_PORT}/v3/kv/range`, body: JSON.stringify({ key: b64(NODES_PREFIX), range_end: b64(end) }), timeoutMs: 5000 });
    assert.equal(r.status, 200, r.text);
    const kvs = (JSON.parse(r.text) as { kvs?: { value: string }[] }).kvs ?? [];
    return kvs.map((kv) => (JSON.parse(Buffer.from(kv.value, 'base64').toString()) as { httpUrl: string }).httpUrl).sort();
  }

  test('one member killed, another partitioned: no request fails, records and watches carry on', { timeout: CASE_TIMEOUT_MS }, async () => {
    const url = etcdUrl(members);
    const at = (name: string) => ['--host', net.host(name).address, '--port', '0'];
    const pd = ['--registry-url', url, '--disaggregation-transfer-backend', 'tcp', '--disaggregation-peer-timeout', String(PEER_TIMEOUT_S), '--log-level', 'info'];
    const router = await net.startNode('router', ['--role', 'router', ...at('router'), '--registry-url', url, '--registry-poll-ms', '200', '--log-level', 'info']);
    const [prefill, decode] = await Promise.all([
      net.startNode('prefill', ['--role', 'prefill', ...at('prefill'), '--disaggregation-bootstrap-port', '0', ...pd]),
      net.startNode('decode', ['--role', 'decode', ...at('decode'), ...pd]),
    ]);
    await waitForRouterNodes(client, router.url, [prefill.url, decode.url]);

    const load = new Load({ http: client, url: router.url, prompts: PROMPTS, sampling: SAMPLING, concurrency: CONCURRENCY, timeoutMs: REQUEST_TIMEOUT_MS });
    let outcomes: Outcome[];
    let killedAt = 0;
    let cutAt = 0;
    let healAt = 0;
    let late;
    let records: string[] = [];
    try {
      await sleep(STRIDE_MS);
      await stopEtcd(members[0]);
      killedAt = performance.now();
      await sleep(HOLD_MS);
      for (const host of ['router', 'prefill', 'decode', 'late']) await net.partition('e2', host);
      cutAt = performance.now();
      // A node that joins now registers through e3 only, and the router must learn of it.
      late = await net.startNode('late', ['--role', 'decode', ...at('late'), ...pd]);
      const joined = late;
      await waitForRouterNodes(client, router.url, [prefill.url, decode.url, late.url]).catch((err: Error) => {
        throw new Error(`${err.message}\nrouter:\n${etcdLines(router)}\nlate node:\n${etcdLines(joined)}`);
      });
      await sleep(Math.max(0, cutAt + HOLD_MS - performance.now()));
      const want = [prefill.url, decode.url, late.url].sort().join(' ');
      const deadline = performance.now() + RECORDS_BACK_MS;
      for (;;) {
        records = await recordsVia('e3');
        if (records.join(' ') === want || performance.now() > deadline) break;
        await sleep(200);
      }
      await net.heal();
      healAt = performance.now();
      await sleep(STRIDE_MS);
    } finally {
      outcomes = await load.stop();
    }
    const show = summary(outcomes);
    console.log(`etcd member killed + member partitioned: ${show} killed->cut ${Math.round(cutAt - killedAt)} ms, cut->heal ${Math.round(healAt - cutAt)} ms`);
    // The scenario happened: requests flowed through both faults.
    assert.ok(outcomes.filter((o) => o.start > killedAt && o.end < cutAt).length > 10, `requests while e1 was dead: ${show}`);
    assert.ok(outcomes.filter((o) => o.start > cutAt && o.end < healAt).length > 10, `requests while e2 was cut off: ${show}`);
    assert.equal(outcomes.filter((o) => o.status !== 200).length, 0, `no request fails: ${show}`);
    // Every record is in etcd during the cut, several TTLs after the first fault.
    assert.deepEqual(records, [prefill.url, decode.url, late!.url].sort());
    const leaseLosses = [prefill, decode, late!].map((node) => node.logs.filter((l) => l.includes('etcd unreachable or refusing this node')).length);
    console.log(`lease losses (prefill, decode, late node): ${leaseLosses.join(', ')}`);
  });
});
