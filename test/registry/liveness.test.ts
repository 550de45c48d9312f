/**
 * Liveness: a node outlives a registry restart (heartbeat -> unknown_node -> register again), a node
 * that registers before the registry exists shows up once it does, and a node that stops
 * heartbeating is expired with an `onChange` event; query answers tell a deregistered node from an
 * expired one; a client logs a long outage once. Waits are bounded; nothing asserts on timing.
 */
import pino from 'pino';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startRegistry } from '../../src/registry/registry-server.js';
import { curve, freePort, log, nextChange, nodeRecord, startRegistryOn } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('registry liveness', () => {
  it('a node re-registers by itself after the registry restarts', async () => {
    const first = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
    const client = RegistryClient.connect(first.url, { curve, log, requestTimeoutMs: 500 });
    const rec = nodeRecord('survivor', 'prefill', 32000);
    let second: Awaited<ReturnType<typeof startRegistry>> | undefined;
    try {
      await client.register(rec, { heartbeatIntervalMs: 100 });
      assert.deepEqual(first.nodes(), [rec]);
      await first.close();

      const port = Number(new URL(first.url).port);
      second = await startRegistryOn(port);
      assert.deepEqual(second.nodes(), []);
      const change = await nextChange(second, (c) => c.added.some((n) => n.id === 'survivor'));
      assert.deepEqual(change.added, [rec]);
      assert.deepEqual(await client.query({ role: 'prefill' }), [rec]);
    } finally {
      client.close();
      await first.close();
      await second?.close();
    }
  });

  it('a node registering before the registry exists joins once it starts', async () => {
    const port = await freePort();
    const client = RegistryClient.connect(`tcp://127.0.0.1:${port}`, { curve, log, requestTimeoutMs: 300 });
    const rec = nodeRecord('early', 'decode', 32100);
    try {
      await assert.rejects(client.register(rec, { heartbeatIntervalMs: 100 }), /not sent within 0\.3 s|timed out/);
      const server = await startRegistryOn(port);
      try {
        const change = await nextChange(server, (c) => c.added.some((n) => n.id === 'early'));
        assert.deepEqual(change.added, [rec]);
      } finally {
        await server.close();
      }
    } finally {
      client.close();
    }
  });

  it('a node that stops heartbeating expires and onChange reports it; a live one stays', async () => {
    const server = await startRegistry({ host: '127.0.0.1', port: 0, curve, heartbeatTimeoutMs: 1000, log });
    const alive = RegistryClient.connect(server.url, { curve, log });
    const dying = RegistryClient.connect(server.url, { curve, log });
    const aliveRec = nodeRecord('alive', 'decode', 32200);
    const dyingRec = nodeRecord('dying', 'prefill', 32201);
    try {
      await alive.register(aliveRec, { heartbeatIntervalMs: 100 });
      await dying.register(dyingRec, { heartbeatIntervalMs: 100 });
      const epochBefore = server.epoch;

      const expired = nextChange(server, (c) => c.cause === 'expired');
      dying.close(); // no deregister: the process "died"
      const change = await expired;

      assert.deepEqual(change.removed, [dyingRec]);
      assert.deepEqual(change.added, []);
      assert.equal(change.epoch, epochBefore + 1);
      assert.deepEqual(server.nodes(), [aliveRec]);
      assert.deepEqual(await alive.query(), [aliveRec]);
    } finally {
      alive.close();
      dying.close();
      await server.close();
    }
  });

  it('query answers list deregistered URLs (not expired ones) until the URL registers again', async () => {
    const server = await startRegistry({ host: '127.0.0.1', port: 0, curve, heartbeatTimeoutMs: 1500, log });
    const [leaving, dying, reader] = [0, 1, 2].map(() => RegistryClient.connect(server.url, { curve, log }));
    const leavingRec = nodeRecord('leaving', 'decode', 32300);
    const dyingRec = nodeRecord('dying', 'prefill', 32301);
    try {
      await leaving.register(leavingRec, { heartbeatIntervalMs: 100 });
      await dying.register(dyingRec, { heartbeatIntervalMs: 100 });
      assert.deepEqual((await reader.listing()).deregistered, []);
      const expired = nextChange(server, (c) => c.cause === 'expired');
      dying.close();
      await leaving.deregister();
      await expired;
      assert.deepEqual(await reader.listing(), { nodes: [], deregistered: [leavingRec.httpUrl] });
      assert.deepEqual(server.deregistered(), [leavingRec.httpUrl]);
      // Back at its URL under a new id (a restart): no longer deregistered.
      const again = RegistryClient.connect(server.url, { curve, log });
      try {
        await again.register({ ...leavingRec, id: 'leaving-2' }, { heartbeatIntervalMs: 100 });
        assert.deepEqual((await reader.listing()).deregistered, []);
      } finally {
        again.close();
      }
    } finally {
      for (const c of [leaving, dying, reader]) c.close();
      await server.close();
    }
  });

  it('a long registry outage is logged once by a registered client, and its end once', async () => {
    const port = await freePort();
    const lines: { msg: string }[] = [];
    const captured = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const client = RegistryClient.connect(`tcp://127.0.0.1:${port}`, { curve, log: captured, requestTimeoutMs: 100 });
    let server: Awaited<ReturnType<typeof startRegistry>> | undefined;
    try {
      await assert.rejects(client.register(nodeRecord('patient', 'decode', 32400), { heartbeatIntervalMs: 20 }));
      await sleep(1500); // about a dozen failed attempts, with timeouts of varying remaining time
      server = await startRegistryOn(port);
      await nextChange(server, (c) => c.added.some((n) => n.id === 'patient'));
      const deadline = Date.now() + 5000;
      while (!lines.some((l) => /reachable again/.test(l.msg))) {
        if (Date.now() > deadline) assert.fail(`recovery not logged: ${JSON.stringify(lines)}`);
        await sleep(20);
      }
      assert.equal(lines.filter((l) => /registry unreachable/.test(l.msg)).length, 1, JSON.stringify(lines));
      assert.equal(lines.filter((l) => /reachable again/.test(l.msg)).length, 1, JSON.stringify(lines));
    } finally {
      client.close();
      await server?.close();
    }
  });
});
