/**
 * Membership: nodes from a NodeSource join and leave a running router; a failing source keeps the
 * last membership; the registry adapters; the real registry (hosted, ZeroMQ) feeding a router; a node
 * that refused connections comes back after a /health probe.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import type { NodeRecord, RegisteredRole } from '../../src/registry/protocol.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startRegistry } from '../../src/registry/registry-server.js';
import type { NodeListing, NodeSource } from '../../src/membership/node-source.js';
import { loadClusterSecret, writeSecretFile } from '../../src/security/cluster-secret.js';
import { curveKeys } from '../../src/security/curve-keys.js';
import { hostedRegistrySource, remoteRegistrySource } from '../../src/membership/registry-node-source.js';
import { DEFAULT_ROUTER_OPTIONS, type RegistrySetting } from '../../src/router/options.js';
import { startRouterWithRegistry } from '../../src/router/start-router-with-registry.js';
import { startRouter, type RouterHandle } from '../../src/router/start-router.js';
import { nodeRecord } from '../registry/support.js';
import { post } from './cluster.js';
import { FakeNode, goodDecode, goodPrefill, refusedPort, RoomBoard } from './fake-pd-node.js';

function record(id: string, role: RegisteredRole, url: string, bootstrapPort: number | null = null): NodeRecord {
  return { ...nodeRecord(id, role, 1), httpUrl: url, bootstrapPort };
}

/** A NodeSource the test edits; `failing` makes list() reject. */
class EditableSource implements NodeSource {
  records: NodeRecord[] = [];
  deregistered: string[] = [];
  failing = false;
  private calls = 0;
  private readonly waiters: (() => void)[] = [];

  async list(): Promise<NodeListing> {
    this.calls++;
    // Wakes `polled` on the next turn, after the router applied this answer.
    setImmediate(() => this.waiters.splice(0).forEach((wake) => wake()));
    if (this.failing) throw new Error('registry unreachable');
    return { nodes: [...this.records], deregistered: [...this.deregistered] };
  }

  /** Resolves once the router has polled `n` more times. */
  async polled(n: number): Promise<void> {
    const target = this.calls + n;
    while (this.calls < target) await new Promise<void>((resolve) => this.waiters.push(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

interface NodeView {
  role: string;
  url: string;
  origin: string;
  up: boolean;
  bootstrap_port: number | null;
}

async function nodes(router: RouterHandle): Promise<NodeView[]> {
  const info = (await (await fetch(`${router.url}/get_server_info`)).json()) as { router: { nodes: NodeView[] } };
  return info.router.nodes;
}

/** Polls the router until `ok` holds (membership follows the source's polls). Bounded. */
async function until(router: RouterHandle, ok: (n: NodeView[]) => boolean, what: string): Promise<NodeView[]> {
  for (let i = 0; ; i++) {
    const seen = await nodes(router);
    if (ok(seen)) return seen;
    if (i > 2000) assert.fail(`${what}: still ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const urls = (n: NodeView[], role: string): string[] => n.filter((x) => x.role === role).map((x) => x.url);

describe('membership', { timeout: 60_000 }, () => {
  test('nodes listed by the source join and leave a running router', async () => {
    const kv = new RoomBoard();
    const prefill = await FakeNode.start(goodPrefill(kv));
    const decodeA = await FakeNode.start(goodDecode(kv));
    const decodeB = await FakeNode.start(goodDecode(kv));
    const source = new EditableSource();
    const router = await startRouter({ port: 0, logLevel: 'silent', nodeSource: source, registryPollMs: 10 });
    try {
      let health = await fetch(`${router.url}/health`);
      assert.equal(health.status, 503);
      assert.match(((await health.json()) as { error: { message: string } }).error.message, /no prefill node is known/);
      const none = await post(`${router.url}/generate`, '{"text":"x"}');
      assert.equal(none.status, 503);
      assert.match(JSON.parse(none.text).error.message, /^no prefill node is known$/);

      source.records = [record('p1', 'prefill', prefill.url, 7001), record('dA', 'decode', decodeA.url)];
      await until(router, (n) => n.length === 2, 'both nodes joined');
      assert.equal((await fetch(`${router.url}/health`)).status, 200);
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.equal(decodeA.generations[0].json.bootstrap_port, 7001, "the registry record's bootstrap port");

      // decode B joins, decode A deregisters: requests go to B only.
      source.records = [record('p1', 'prefill', prefill.url, 7001), record('dB', 'decode', `${decodeB.url}/`)];
      source.deregistered = [`${decodeA.url}/`];
      const now = await until(router, (n) => urls(n, 'decode').join() === decodeB.url, 'A replaced by B');
      assert.deepEqual(urls(now, 'prefill'), [prefill.url]);
      assert.ok(now.every((n) => n.origin === 'registry'));
      for (let i = 0; i < 3; i++) assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.equal(decodeA.generations.length, 1);
      assert.equal(decodeB.generations.length, 3);

      // A source that fails keeps the last membership.
      source.failing = true;
      source.records = [];
      await source.polled(2);
      assert.equal((await nodes(router)).length, 2);
      source.failing = false;
      source.deregistered = [prefill.url, decodeB.url];
      await until(router, (n) => n.length === 0, 'everyone left');
      assert.equal((await fetch(`${router.url}/health`)).status, 503);
    } finally {
      await router.close();
      await Promise.all([prefill, decodeA, decodeB].map((n) => n.close()));
    }
  });

  test('a node the registry stops listing (expired) stays routable while it answers /health; dropped once it does not', async () => {
    const kv = new RoomBoard();
    const prefill = await FakeNode.start(goodPrefill(kv));
    const decode = await FakeNode.start(goodDecode(kv));
    const source = new EditableSource();
    source.records = [record('p', 'prefill', prefill.url, 7001), record('d', 'decode', decode.url)];
    const router = await startRouter({ port: 0, logLevel: 'silent', nodeSource: source, registryPollMs: 10 });
    let decodeOpen = true;
    try {
      await until(router, (n) => n.length === 2, 'both joined');
      // The registry forgets both (as when it is cut off from them): they stay, probed every poll.
      source.records = [];
      const probesBefore = decode.received.filter((r) => r.path === '/health').length;
      await source.polled(5);
      assert.equal((await nodes(router)).length, 2);
      assert.ok(decode.received.filter((r) => r.path === '/health').length > probesBefore, 'the unlisted node is probed');
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
      // Listed again: kept for good (no more probes needed), and the same node (one load count).
      source.records = [record('p2', 'prefill', prefill.url, 7001)];
      await source.polled(2);
      // The unlisted decode node dies: its next probe fails and it leaves; the listed prefill stays.
      await decode.close();
      decodeOpen = false;
      const left = await until(router, (n) => n.length === 1, 'the dead unlisted node left');
      assert.deepEqual(urls(left, 'prefill'), [prefill.url]);
      const health = prefill.received.filter((r) => r.path === '/health').length;
      await source.polled(5);
      assert.equal(prefill.received.filter((r) => r.path === '/health').length, health, 'a listed node is not probed while it serves');
    } finally {
      await router.close();
      await prefill.close();
      if (decodeOpen) await decode.close();
    }
  });

  test('a node given by flag and listed by the registry is one node; static nodes never leave', async () => {
    const kv = new RoomBoard();
    const prefill = await FakeNode.start(goodPrefill(kv));
    const decode = await FakeNode.start(goodDecode(kv));
    const source = new EditableSource();
    source.records = [record('p', 'prefill', prefill.url, 7777)];
    const router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: prefill.url, bootstrapPort: 9000 }], decode: [{ url: decode.url }], nodeSource: source, registryPollMs: 10 });
    try {
      const seen = await nodes(router);
      assert.deepEqual(seen.map((n) => [n.role, n.origin, n.bootstrap_port]), [['prefill', 'static', 9000], ['decode', 'static', null]]);
      source.records = [];
      await source.polled(2);
      assert.equal((await nodes(router)).length, 2);
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
    } finally {
      await router.close();
      await prefill.close();
      await decode.close();
    }
  });

  test("a prefill given without a bootstrap port (--prefill URL none) takes the one its registry record gives, else 8998", async () => {
    const kv = new RoomBoard();
    const prefill = await FakeNode.start(goodPrefill(kv));
    const decode = await FakeNode.start(goodDecode(kv));
    const source = new EditableSource();
    const router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: prefill.url, bootstrapPort: null }], decode: [{ url: decode.url }], nodeSource: source, registryPollMs: 10 });
    try {
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.equal(decode.generations[0].json.bootstrap_port, 8998, 'no record yet: SGLang\'s default');
      source.records = [record('p', 'prefill', prefill.url, 7777)];
      await until(router, (n) => n[0].bootstrap_port === 7777, 'the record\'s port adopted');
      assert.equal((await post(`${router.url}/generate`, '{"text":"y"}')).status, 200);
      assert.equal(decode.generations[1].json.bootstrap_port, 7777);
      assert.deepEqual((await nodes(router)).map((n) => [n.role, n.origin]), [['prefill', 'static'], ['decode', 'static']], 'still one node');
    } finally {
      await router.close();
      await prefill.close();
      await decode.close();
    }
  });

  test('the registry adapters list what the registry holds', async () => {
    const rec = record('n', 'decode', 'http://127.0.0.1:1');
    const listing = { nodes: [rec], deregistered: ['http://127.0.0.1:2'] };
    assert.deepEqual(await hostedRegistrySource({ nodes: () => listing.nodes, deregistered: () => listing.deregistered }).list(), listing);
    assert.deepEqual(await remoteRegistrySource({ listing: async () => listing }).list(), listing);
  });

  for (const kind of ['host', 'remote'] as const) {
    test(`nodes registering with a ${kind === 'host' ? 'hosted' : 'remote'} registry (ZeroMQ) join the router, and leave when they deregister`, async () => {
      const log = createLogger('silent');
      // The router reads the cluster secret from --cluster-secret-file; the nodes and the remote registry hold the same.
      const dir = mkdtempSync(join(tmpdir(), 'pd-node-secret-'));
      const clusterSecretFile = join(dir, 'cluster-secret');
      writeSecretFile(clusterSecretFile, randomBytes(32));
      const curve = curveKeys(loadClusterSecret(clusterSecretFile).key);
      const kv = new RoomBoard();
      const prefill = await FakeNode.start(goodPrefill(kv));
      const decode = await FakeNode.start(goodDecode(kv));
      const remote = kind === 'remote' ? await startRegistry({ host: '127.0.0.1', port: 0, curve, log }) : null;
      const setting: RegistrySetting = remote === null ? { kind: 'host', port: 0 } : { kind: 'remote', url: remote.url };
      const both = await startRouterWithRegistry({ ...DEFAULT_ROUTER_OPTIONS, port: 0, logLevel: 'silent', registryPollMs: 10, clusterSecretFile }, setting);
      const router = both.router;
      if (remote !== null) assert.equal(both.registryUrl, remote.url);
      assert.match(both.registryUrl, /^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/, 'the bound endpoint nodes register with');
      const clients = [RegistryClient.connect(both.registryUrl, { curve, log }), RegistryClient.connect(both.registryUrl, { curve, log })];
      try {
        await clients[0].register(record('prefill-1', 'prefill', prefill.url, 8100));
        await clients[1].register(record('decode-1', 'decode', decode.url));
        await until(router, (n) => n.length === 2, 'registered nodes joined');
        const { status, text } = await post(`${router.url}/generate`, '{"text":"x"}');
        assert.equal(status, 200);
        assert.equal(JSON.parse(text).text, ' decoded text');
        assert.equal(decode.generations[0].json.bootstrap_port, 8100);

        await clients[1].deregister();
        await until(router, (n) => urls(n, 'decode').length === 0, 'the decode node left');
        assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 503);
      } finally {
        for (const client of clients) client.close();
        await both.close();
        await remote?.close();
        await prefill.close();
        await decode.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('a node that refused connections is probed and used again once /health answers', async () => {
    const kv = new RoomBoard();
    const decode = await FakeNode.start(goodDecode(kv));
    const port = await refusedPort();
    const url = `http://127.0.0.1:${port}`;
    const router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url, bootstrapPort: 9000 }], decode: [{ url: decode.url }], downBackoffSecs: 0.02 });
    let prefill: FakeNode | null = null;
    try {
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 503);
      assert.equal((await nodes(router)).find((n) => n.url === url)?.up, false);
      assert.equal((await fetch(`${router.url}/health`)).status, 503);
      prefill = await FakeNode.start(goodPrefill(kv), port);
      await until(router, (n) => n.every((x) => x.up), 'the prefill node is up again');
      assert.ok(prefill.received.some((r) => r.method === 'GET' && r.path === '/health'), 'brought back by a /health probe');
      assert.equal((await post(`${router.url}/generate`, '{"text":"x"}')).status, 200);
      assert.equal(prefill.generations.length, 1);
    } finally {
      await router.close();
      await prefill?.close();
      await decode.close();
    }
  });
});
