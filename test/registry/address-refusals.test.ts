/**
 * The registry refuses records peers could not use (issue 10): a wildcard address anywhere, a loopback
 * address in a registry that serves other hosts (bound to a routable address or a wildcard), and an
 * httpUrl that another live node holds. The refused node's client logs it once while it retries, and
 * a restarted node (new id, new owner) gets its URL back once the old record is no longer live.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { NodeRecord } from '../../src/registry/protocol.js';
import { RegistryClient, RegistryError } from '../../src/registry/registry-client.js';
import { startRegistry, type RegistryServer } from '../../src/registry/registry-server.js';
import { ask, curve, log, nodeRecord, ownerToken, rawDealer } from './support.js';

/** A record whose every address is at `host` (a routable-looking one: the registry never dials it). */
function recordAt(id: string, role: 'prefill' | 'decode', host: string, port: number): NodeRecord {
  const rec = nodeRecord(id, role, port);
  return {
    ...rec,
    httpUrl: `http://${host}:${port}`,
    controlAddr: `tcp://${host}:${port + 1000}`,
  };
}

async function register(server: RegistryServer, node: NodeRecord, owner = ownerToken()): Promise<{ type: string; code?: string; message?: string }> {
  const socket = rawDealer(server.url.replace('0.0.0.0', '127.0.0.1'));
  try {
    return (await ask(socket, JSON.stringify({ v: 1, seq: 1, type: 'register', node, owner }))) as { type: string; code?: string; message?: string };
  } finally {
    socket.close();
  }
}

describe('registry address refusals', () => {
  let wildcard: RegistryServer;
  let loopback: RegistryServer;

  before(async () => {
    wildcard = await startRegistry({ host: '0.0.0.0', port: 0, curve, log });
    loopback = await startRegistry({ host: '127.0.0.1', port: 0, curve, log });
  });
  after(async () => {
    await wildcard?.close();
    await loopback?.close();
  });

  it('a registry serving other hosts refuses loopback addresses, naming the field; routable ones are accepted', async () => {
    const loop = await register(wildcard, nodeRecord('local', 'decode', 36000));
    assert.equal(loop.code, 'unreachable_address');
    assert.match(loop.message ?? '', /httpUrl has the loopback host 127\.0\.0\.1, but this registry \(bound to 0\.0\.0\.0\) serves other hosts.*--advertise-host/);
    const controlOnly = { ...recordAt('control-loop', 'prefill', '10.213.0.9', 36010), controlAddr: 'tcp://127.0.0.1:8998' };
    assert.match((await register(wildcard, controlOnly)).message ?? '', /^controlAddr has the loopback host 127\.0\.0\.1/);
    assert.equal((await register(wildcard, recordAt('routable', 'decode', '10.213.0.9', 36020))).type, 'ok');
    assert.deepEqual(wildcard.nodes().map((n) => n.id), ['routable']);
  });

  it('a wildcard address is refused by any registry; loopback is fine for a loopback registry', async () => {
    const cases: [string, NodeRecord][] = [
      ['httpUrl', recordAt('w1', 'decode', '0.0.0.0', 36100)],
      ['controlAddr', { ...recordAt('w2', 'prefill', '127.0.0.1', 36110), controlAddr: 'tcp://0.0.0.0:8998' }],
    ];
    for (const [field, rec] of cases) {
      const reply = await register(loopback, rec);
      assert.equal(reply.code, 'unreachable_address', field);
      assert.match(reply.message ?? '', new RegExp(`^${field.replace(/[[\].]/g, '\\$&')} has the wildcard host`), field);
    }
    assert.equal((await register(loopback, nodeRecord('here', 'decode', 36130))).type, 'ok');
    assert.deepEqual(loopback.nodes().map((n) => n.id), ['here']);
  });

  it('a URL held by another live node is refused (the client logs it once); a restarted node takes it back once the old record expires', async () => {
    const server = await startRegistry({ host: '127.0.0.1', port: 0, curve, log, heartbeatTimeoutMs: 600 });
    const lines: { msg: string; err?: string }[] = [];
    const captured = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const holder = RegistryClient.connect(server.url, { curve, log });
    const rival = RegistryClient.connect(server.url, { curve, log: captured });
    try {
      const held = nodeRecord('holder', 'prefill', 36200);
      await holder.register(held, { heartbeatIntervalMs: 50 });
      const second = { ...held, id: 'second-node' };
      await assert.rejects(rival.register(second, { heartbeatIntervalMs: 50 }), (err: Error) => err instanceof RegistryError && err.code === 'url_in_use');
      await sleep(500); // about ten refused retries, while the holder heartbeats
      assert.deepEqual(server.nodes(), [held], 'the live holder is not displaced');
      const refusals = lines.filter((l) => /refusing this node/.test(l.msg));
      assert.equal(refusals.length, 1, JSON.stringify(lines));
      assert.match(refusals[0].err ?? '', /http:\/\/127\.0\.0\.1:36200 is the httpUrl of another live node/);

      // The holder dies without deregistering: once its record is past the heartbeat timeout, the
      // retrying node gets the URL (in one change that also removes the dead record).
      holder.close();
      const deadline = Date.now() + 5000;
      while (server.nodes()[0]?.id !== second.id) {
        if (Date.now() > deadline) throw new Error(`the URL was not handed over: ${JSON.stringify(server.nodes())}`);
        await sleep(20);
      }
      assert.deepEqual(server.nodes(), [second]);
      assert.ok(lines.some((l) => /registry reachable again/.test(l.msg)), 'the client says the refusal is over');
    } finally {
      holder.close();
      rival.close();
      await server.close();
    }
  });
});
