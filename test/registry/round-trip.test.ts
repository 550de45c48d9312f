/**
 * Registry round trips over real ZeroMQ sockets: two nodes register and query each other,
 * one deregisters; and the epoch moves on membership changes and on nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MembershipChange } from '../../src/registry/membership.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { startRegistry, type RegistryServer } from '../../src/registry/registry-server.js';
import { ask, curve, log, nodeRecord, ownerToken, rawDealer } from './support.js';

describe('registry round trip', () => {
  let server: RegistryServer;
  let prefill: RegistryClient;
  let decode: RegistryClient;
  const prefillRecord = nodeRecord('prefill-a', 'prefill', 30000);
  const decodeRecord = nodeRecord('decode-b', 'decode', 30001);

  before(async () => {
    server = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
    prefill = RegistryClient.connect(server.url, { curve, log });
    decode = RegistryClient.connect(server.url, { curve, log });
  });

  after(async () => {
    prefill.close();
    decode.close();
    await server.close();
  });

  it('binds a real port when asked for port 0', () => {
    assert.match(server.url, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.url, 'tcp://127.0.0.1:0');
  });

  it('registers, queries by role, deregisters', async () => {
    await prefill.register(prefillRecord);
    await decode.register(decodeRecord);

    assert.deepEqual(await decode.query({ role: 'prefill' }), [prefillRecord]);
    assert.deepEqual(await prefill.query({ role: 'decode' }), [decodeRecord]);
    assert.deepEqual((await prefill.query()).map((n) => n.id).sort(), ['decode-b', 'prefill-a']);
    assert.deepEqual(server.nodes('decode'), [decodeRecord]);

    await prefill.deregister();
    assert.deepEqual(await decode.query(), [decodeRecord]);
    assert.deepEqual(server.nodes('prefill'), []);
  });
});

describe('registry epoch', () => {
  let server: RegistryServer;
  const changes: MembershipChange[] = [];

  before(async () => {
    server = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
    // Subscribed first: a listener that throws must not keep the next one (or the registry) from working.
    server.onChange(() => {
      throw new Error('broken listener');
    });
    server.onChange((c) => changes.push(c));
  });

  after(() => server.close());

  it('changes on membership changes only', async () => {
    const socket = rawDealer(server.url);
    try {
      const rec = nodeRecord('n1', 'decode', 31000);
      const owner = ownerToken();
      assert.equal(server.epoch, 0);

      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 1, type: 'register', node: rec, owner }))).type, 'ok');
      assert.equal(server.epoch, 1);
      assert.deepEqual(changes.at(-1), { epoch: 1, cause: 'register', added: [rec], removed: [] });

      // Heartbeats, queries and an identical re-register are not membership changes.
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 2, type: 'heartbeat', id: 'n1', owner }))).type, 'ok');
      assert.deepEqual(await ask(socket, JSON.stringify({ v: 1, seq: 3, type: 'query' })), { v: 1, seq: 3, type: 'nodes', nodes: [rec], epoch: 1, deregistered: [] });
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 4, type: 'register', node: rec, owner }))).type, 'ok');
      assert.equal(server.epoch, 1);
      assert.equal(changes.length, 1);

      // Same id, different record: one change that swaps the record.
      const moved = { ...rec, controlAddr: 'tcp://127.0.0.1:39999' };
      await ask(socket, JSON.stringify({ v: 1, seq: 5, type: 'register', node: moved, owner }));
      assert.equal(server.epoch, 2);
      assert.deepEqual(changes.at(-1), { epoch: 2, cause: 'register', added: [moved], removed: [rec] });

      // A restarted node: new id, same httpUrl. The old record goes in the same change.
      const restarted = { ...moved, id: 'n1-restarted' };
      await ask(socket, JSON.stringify({ v: 1, seq: 6, type: 'register', node: restarted, owner }));
      assert.equal(server.epoch, 3);
      assert.deepEqual(changes.at(-1), { epoch: 3, cause: 'register', added: [restarted], removed: [moved] });
      assert.deepEqual(server.nodes(), [restarted]);

      const stale = await ask(socket, JSON.stringify({ v: 1, seq: 7, type: 'heartbeat', id: 'n1', owner }));
      assert.equal(stale.type === 'error' && stale.code, 'unknown_node');
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 8, type: 'deregister', id: 'never-there', owner }))).type, 'ok');
      assert.equal(server.epoch, 3);

      await ask(socket, JSON.stringify({ v: 1, seq: 9, type: 'deregister', id: 'n1-restarted', owner }));
      assert.equal(server.epoch, 4);
      assert.deepEqual(changes.at(-1), { epoch: 4, cause: 'deregister', added: [], removed: [restarted] });
      assert.deepEqual(server.nodes(), []);
    } finally {
      socket.close();
    }
  });
});
