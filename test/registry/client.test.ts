/**
 * The client's request discipline: a dead registry fails a request within its timeout, late replies
 * are matched by seq and dropped, a reply that fails validation fails its request, the wait queue is
 * bounded, and close() fails whatever is pending. A hand-driven ROUTER plays the registry where the
 * test needs to control reply order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Router } from 'zeromq';
import { parseRequest } from '../../src/registry/messages.js';
import { MAX_QUEUED, RegistryClient } from '../../src/registry/registry-client.js';
import { curveServerOptions } from '../../src/security/curve-keys.js';
import { admitClusterClients } from '../../src/security/zap-handler.js';
import { curve, freePort, log, nodeRecord } from './support.js';

/** Receives one request on the fake registry; returns the sender's routing id and the request's seq. */
async function receiveRequest(router: Router): Promise<{ peer: Buffer; seq: number }> {
  const [peer, frame] = await router.receive();
  const parsed = parseRequest(frame);
  assert.ok(parsed.ok, 'the client sent an invalid request');
  return { peer, seq: parsed.value.seq };
}

describe('registry client', () => {
  it('requests to a dead registry reject within their timeout, one after another', async () => {
    const port = await freePort();
    const client = RegistryClient.connect(`tcp://127.0.0.1:${port}`, { curve, log, requestTimeoutMs: 300 });
    try {
      await assert.rejects(client.query(), /query to tcp:\/\/127\.0\.0\.1:\d+ not sent within 0\.3 s/);
      await assert.rejects(client.query({ role: 'decode' }), /not sent within 0\.3 s/);
    } finally {
      client.close();
    }
  });

  it('drops a late reply and pairs each reply with its request by seq', async () => {
    const releaseZap = await admitClusterClients(curve, log);
    const router = new Router({ linger: 0, receiveTimeout: 3000, ...curveServerOptions(curve) });
    await router.bind('tcp://127.0.0.1:0');
    const client = RegistryClient.connect(router.lastEndpoint!, { curve, log, requestTimeoutMs: 300 });
    try {
      const first = client.query({ role: 'prefill' });
      const late = await receiveRequest(router);
      await assert.rejects(first, /registry query to .* reply timed out after 0\.\d+ s/);

      const second = client.query({ role: 'decode' });
      const live = await receiveRequest(router);
      assert.notEqual(live.seq, late.seq);
      const stale = nodeRecord('stale', 'prefill', 34000);
      const fresh = nodeRecord('fresh', 'decode', 34001);
      await router.send([late.peer, JSON.stringify({ v: 1, seq: late.seq, type: 'nodes', nodes: [stale], epoch: 1 })]);
      await router.send([live.peer, JSON.stringify({ v: 1, seq: live.seq, type: 'nodes', nodes: [fresh], epoch: 1 })]);
      assert.deepEqual(await second, [fresh]);

      // An invalid reply to the request in flight fails that request at once, with the reason.
      const third = client.query();
      const broken = await receiveRequest(router);
      await router.send([broken.peer, JSON.stringify({ v: 1, seq: broken.seq, type: 'nodes', nodes: 'none', epoch: 1 })]);
      await assert.rejects(third, /invalid reply: nodes\.nodes must be an array/);

      // An error reply becomes a RegistryError carrying the code.
      const fourth = client.query();
      const refused = await receiveRequest(router);
      await router.send([refused.peer, JSON.stringify({ v: 1, seq: refused.seq, type: 'error', code: 'version', message: 'speak v3' })]);
      await assert.rejects(fourth, { name: 'RegistryError', code: 'version', message: /refused query: speak v3/ });
    } finally {
      client.close();
      router.close();
      releaseZap();
    }
  });

  it('bounds the wait queue and close() fails everything pending', async () => {
    const port = await freePort();
    const client = RegistryClient.connect(`tcp://127.0.0.1:${port}`, { curve, log, requestTimeoutMs: 10_000 });
    const pending = Array.from({ length: MAX_QUEUED + 1 }, () => client.query());
    const settled = Promise.allSettled(pending);
    await assert.rejects(client.query(), new RegExp(`${MAX_QUEUED} requests already waiting`));
    client.close();
    const results = await settled;
    assert.equal(results.length, MAX_QUEUED + 1);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /registry client closed/);
    }
    await assert.rejects(client.query(), /registry client is closed/);
  });
});
