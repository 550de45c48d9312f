/**
 * Liveness: a node outlives a registry restart (heartbeat -> unknown_node -> register again), a node
 * that registers before the registry exists shows up once it does, and a node that stops
 * heartbeating is expired with an `onChange` event. Waits are bounded; nothing asserts on timing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startRegistry } from '../../src/registry/registry-server.js';
import { curve, freePort, log, nextChange, nodeRecord, startRegistryOn } from './support.js';

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
      assert.deepEqual(await client.query('prefill'), [rec]);
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
});
