/**
 * Membership in etcd on real processes (127.0.0.1): one etcd member, a router and prefill/decode
 * nodes all given --registry-url etcd://...; requests through the router succeed, a node stopped
 * cleanly leaves the router at once (its left marker in etcd proves the deregister), a node
 * SIGKILLed leaves etcd within its lease TTL (plus margin), and records that fail the registry's
 * checks are never handed to the router. Then, on an etcd member of its own with authentication
 * enabled: a router and a node given --etcd-user find each other, a node without it is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { LEASE_TTL_SECS } from '../../src/membership/etcd-node-registration.js';
import { LEFT_PREFIX, NODES_PREFIX } from '../../src/membership/etcd-url.js';
import type { NodeRecord } from '../../src/registry/protocol.js';
import { etcdMissing, etcdUrl, startEtcdCluster, stopEtcd, type EtcdMember } from '../helpers/etcd.js';
import { getJson, killProcess, postJson, stopAll, waitForLogLine } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';
import { freePort } from '../registry/support.js';

const SAMPLING = { temperature: 0, max_new_tokens: 8, ignore_eos: true };
const REQUESTS = 20;
/** etcd checks lease expiry every 500 ms; on a busy 2-core host allow 4x the TTL on top. */
const EXPIRY_MARGIN_MS = 4 * LEASE_TTL_SECS * 1000;

const missing = etcdMissing();

describe('membership in etcd', { skip: missing ?? false }, () => {
  let member: EtcdMember;
  let etcd: Etcd3;
  let cluster: Cluster;

  before(async () => {
    [member] = await startEtcdCluster([{ name: 'm0', host: '127.0.0.1', clientPort: await freePort(), peerPort: await freePort() }]);
    etcd = new Etcd3({ hosts: `http://127.0.0.1:${member.clientPort}` });
    cluster = await startCluster('tcp', ['--registry-url', etcdUrl([member])]);
  });
  after(async () => {
    await stopAll();
    etcd?.close();
    if (member) await stopEtcd(member);
  });

  const records = async (): Promise<NodeRecord[]> => Object.values(await etcd.getAll().prefix(NODES_PREFIX).strings()).map((v) => JSON.parse(v) as NodeRecord);
  const generate = (i: number) => postJson(`${cluster.router.url}/generate`, { text: `request ${i} through etcd membership`, sampling_params: SAMPLING }, AbortSignal.timeout(30_000));

  test('nodes register in etcd, the router finds them, requests succeed; a clean stop leaves at once', async () => {
    const prefill = await cluster.addNode('prefill');
    const decode = await cluster.addNode('decode');
    const second = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, decode, second]);
    assert.deepEqual((await records()).map((r) => r.httpUrl).sort(), [prefill.url, decode.url, second.url].sort());

    const results = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => generate(i)));
    assert.deepEqual(results.filter((r) => r.status !== 200).map((r) => r.body), []);

    const t0 = Date.now();
    await killProcess(second, 'SIGTERM');
    await cluster.waitForNodes([prefill, decode], 10_000);
    const leftMs = Date.now() - t0;
    const left = Object.values(await etcd.getAll().prefix(LEFT_PREFIX).strings());
    assert.ok(left.includes(second.url), `no left marker for ${second.url}: ${JSON.stringify(left)}`);
    assert.ok(!(await records()).some((r) => r.httpUrl === second.url), 'the stopped node\'s record is gone');
    console.log(`clean stop: router lists the node gone ${leftMs} ms after SIGTERM`);

    const after = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => generate(REQUESTS + i)));
    assert.deepEqual(after.filter((r) => r.status !== 200).map((r) => r.body), []);
    await killProcess(prefill, 'SIGTERM');
    await killProcess(decode, 'SIGTERM');
    await cluster.waitForNodes([]);
  });

  test('a SIGKILLed node leaves etcd within its lease TTL', async () => {
    const prefill = await cluster.addNode('prefill');
    const decode = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, decode]);
    const t0 = Date.now();
    await killProcess(decode);
    const deadline = t0 + LEASE_TTL_SECS * 1000 + EXPIRY_MARGIN_MS;
    while ((await records()).some((r) => r.httpUrl === decode.url)) {
      assert.ok(Date.now() < deadline, `record of the killed node still in etcd after ${Date.now() - t0} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const goneMs = Date.now() - t0;
    console.log(`SIGKILL: record gone from etcd ${goneMs} ms after the kill (lease TTL ${LEASE_TTL_SECS} s)`);
    assert.ok(goneMs >= 1000, `gone after ${goneMs} ms: too soon for a lease expiry`);
    assert.deepEqual((await records()).map((r) => r.httpUrl), [prefill.url]);
    // Not deregistered: the router's health checks drop it, not a left marker.
    assert.ok(!Object.values(await etcd.getAll().prefix(LEFT_PREFIX).strings()).includes(decode.url));
    await cluster.waitForNodes([prefill]);
    await killProcess(prefill, 'SIGTERM');
    await cluster.waitForNodes([]);
  });

  test('records that fail the registry\'s checks never reach the router', async () => {
    const prefill = await cluster.addNode('prefill');
    const decode = await cluster.addNode('decode');
    await cluster.waitForNodes([prefill, decode]);
    const [good] = (await records()).filter((r) => r.role === 'decode');
    const forged = { ...good, id: 'forged', httpUrl: 'http://127.0.0.1:1' };
    // A valid record under a key that does not match it, and a record missing a field.
    await etcd.put(`${NODES_PREFIX}decode/other`).value(JSON.stringify(forged));
    await etcd.put(`${NODES_PREFIX}decode/broken`).value(JSON.stringify({ ...forged, id: 'broken', httpUrl: 7 }));
    await new Promise((r) => setTimeout(r, 1000));
    const listed = ((await getJson(`${cluster.router.url}/get_server_info`)).router.nodes as { url: string }[]).map((n) => n.url).sort();
    assert.deepEqual(listed, [prefill.url, decode.url].sort());
    assert.ok(cluster.router.logs.some((l) => l.includes('invalid node record in etcd ignored') && l.includes('decode/broken')));
    await etcd.delete().prefix(`${NODES_PREFIX}decode/other`);
    await etcd.delete().prefix(`${NODES_PREFIX}decode/broken`);
    await killProcess(prefill, 'SIGTERM');
    await killProcess(decode, 'SIGTERM');
  });
});

describe('membership in etcd with authentication', { skip: missing ?? false }, () => {
  const USER = 'root:pd-node-test';
  let member: EtcdMember;
  let cluster: Cluster;

  before(async () => {
    [member] = await startEtcdCluster([{ name: 'auth', host: '127.0.0.1', clientPort: await freePort(), peerPort: await freePort() }]);
    const admin = new Etcd3({ hosts: `http://127.0.0.1:${member.clientPort}` });
    try {
      await admin.role('root').create();
      await (await admin.user('root').create('pd-node-test')).addRole('root');
      await admin.auth.authEnable();
    } finally {
      admin.close();
    }
    cluster = await startCluster('tcp', ['--registry-url', etcdUrl([member]), '--etcd-user', USER]);
  });
  after(async () => {
    await stopAll();
    if (member) await stopEtcd(member);
  });

  test('a node with --etcd-user reaches the router; one without is refused and logs it', async () => {
    const decode = await cluster.addNode('decode', ['--etcd-user', USER]);
    await cluster.waitForNodes([decode]);
    const stranger = await cluster.addNode('decode');
    await waitForLogLine(stranger, ['etcd unreachable or refusing this node'], 10_000, 'the node without credentials logs its refusal');
    await cluster.waitForNodes([decode]);
    await killProcess(stranger, 'SIGTERM');
    await killProcess(decode, 'SIGTERM');
  });
});
