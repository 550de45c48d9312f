/**
 * Record ownership: a live record can be re-registered, heartbeated and deregistered only with the
 * owner token of the register that created it. Another client of the cluster that registers the
 * same id is refused (`not_owner`), logs that once while it keeps retrying, and gets the id once
 * the owner deregistered.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { RegistryClient, RegistryError } from '../../src/registry/registry-client.js';
import { startRegistry, type RegistryServer } from '../../src/registry/registry-server.js';
import { ask, curve, log, nodeRecord, ownerToken, rawDealer } from './support.js';

describe('registry record ownership', () => {
  let server: RegistryServer;

  before(async () => {
    server = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
  });

  after(() => server.close());

  it('refuses changes of a live record with another owner token, and leaves it untouched', async () => {
    const socket = rawDealer(server.url);
    try {
      const rec = nodeRecord('owned', 'decode', 35000);
      const owner = ownerToken();
      const stranger = ownerToken();
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 1, type: 'register', node: rec, owner }))).type, 'ok');
      const epoch = server.epoch;

      const hijack = { ...rec, httpUrl: 'http://127.0.0.1:35999' };
      for (const [seq, request] of [
        [2, { type: 'register', node: hijack, owner: stranger }],
        [3, { type: 'heartbeat', id: rec.id, owner: stranger }],
        [4, { type: 'deregister', id: rec.id, owner: stranger }],
      ] as const) {
        const reply = await ask(socket, JSON.stringify({ v: 1, seq, ...request }));
        assert.equal(reply.type === 'error' && reply.code, 'not_owner', `${request.type}: ${JSON.stringify(reply)}`);
      }
      assert.deepEqual(server.nodes(), [rec]);
      assert.equal(server.epoch, epoch);

      // The owner still can; after its deregister the id is free for anyone.
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 5, type: 'heartbeat', id: rec.id, owner }))).type, 'ok');
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 6, type: 'deregister', id: rec.id, owner }))).type, 'ok');
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 7, type: 'register', node: hijack, owner: stranger }))).type, 'ok');
      assert.deepEqual(server.nodes(), [hijack]);
      assert.equal((await ask(socket, JSON.stringify({ v: 1, seq: 8, type: 'deregister', id: rec.id, owner: stranger }))).type, 'ok');
    } finally {
      socket.close();
    }
  });

  it('a client registering a live id of another client is refused, logs it once, and gets the id once it is free', async () => {
    const lines: { msg: string; err?: string }[] = [];
    const captured = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const first = RegistryClient.connect(server.url, { curve, log });
    const second = RegistryClient.connect(server.url, { curve, log: captured });
    try {
      const rec = nodeRecord('taken', 'prefill', 35100);
      await first.register(rec, { heartbeatIntervalMs: 50 });
      const rival = { ...rec, httpUrl: 'http://127.0.0.1:35199' };
      await assert.rejects(second.register(rival, { heartbeatIntervalMs: 50 }), (err: Error) => err instanceof RegistryError && err.code === 'not_owner');
      await sleep(500); // about ten refused retries
      assert.deepEqual(server.nodes(), [rec]);
      const refusals = lines.filter((l) => /refusing this node/.test(l.msg));
      assert.equal(refusals.length, 1, JSON.stringify(lines));
      assert.match(refusals[0].err ?? '', /belongs to a live record another node registered/);

      await first.deregister();
      const deadline = Date.now() + 5000;
      while (server.nodes()[0]?.httpUrl !== rival.httpUrl) {
        if (Date.now() > deadline) throw new Error(`the freed id was not taken by the retrying client: ${JSON.stringify(server.nodes())}`);
        await sleep(20);
      }
    } finally {
      first.close();
      await second.deregister().catch(() => undefined);
      second.close();
    }
  });
});
