/**
 * The router's raw HTTP/1.1 front (src/net/http1-front.ts, claimed in router-server.ts) end to end
 * against fake PD nodes, with hostile clients on real sockets beside good ones: a client that leaves
 * mid-stream cancels both upstream requests (the nodes see their connections close), pipelined
 * generations are each answered with their own rid, a connection moves to Fastify for a
 * non-generation route and still generates, and the router's bounds (413, 431, 400 naming the
 * field, 503 + Retry-After when full, 401 without the key) hold on the front with the same metrics.
 */
import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { metricValue } from '../server/support.js';
import { postText, RawClient } from '../helpers/raw-http-client.js';
import { startCluster, type Cluster } from './cluster.js';
import { goodPrefill, RoomBoard, streamThen, type Behavior, type Received } from './fake-pd-node.js';

/** Good clients beside each fault, and the generations each sends. */
const GOOD_CLIENTS = 3;
const GOOD_REQUESTS = 3;

/**
 * A decode node that answers with the client's rid (once the prefill side published the room), or,
 * for `"hold": true`, streams one event and holds the stream open until its connection closes.
 */
function echoDecode(kv: RoomBoard): Behavior {
  const hold = streamThen('hold');
  return async (req: Received, res: http.ServerResponse) => {
    if (req.method !== 'POST') return hold(req, res); // info and health calls: the fake's usual answers
    if (req.json.hold === true) return hold(req, res);
    await Promise.race([kv.waitFor(req.rooms), req.cutOff]);
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ rid: req.json.rid, text: ' decoded' }));
  };
}

function port(c: Cluster): number {
  return c.router.port;
}

async function goodTraffic(c: Cluster, tag: string): Promise<void> {
  await Promise.all(
    Array.from({ length: GOOD_CLIENTS }, async (_, n) => {
      const client = await RawClient.connect(port(c));
      try {
        for (let i = 0; i < GOOD_REQUESTS; i++) {
          const rid = `${tag}-${n}-${i}`;
          client.send(postText('/generate', JSON.stringify({ text: 'hi', rid })));
          const answer = await client.next();
          assert.equal(answer.status, 200, answer.body);
          assert.equal(JSON.parse(answer.body).rid, rid);
        }
      } finally {
        client.destroy();
      }
    }),
  );
}

async function metrics(c: Cluster): Promise<string> {
  return (await fetch(`${c.router.url}/metrics`)).text();
}

describe('router raw front', { timeout: 60_000 }, () => {
  let c: Cluster;
  before(async () => {
    const kv = new RoomBoard();
    c = await startCluster([goodPrefill(kv)], [echoDecode(kv)]);
  });
  after(async () => {
    await c?.close();
  });

  test('a client leaving mid-stream cancels the upstream request: the decode node sees its connection close', async () => {
    const before = metricValue(await metrics(c), 'pd_node_router_requests_total{route="/generate",outcome="aborted"}');
    const client = await RawClient.connect(port(c));
    const good = goodTraffic(c, 'stream');
    client.send(postText('/generate', JSON.stringify({ text: 'hi', rid: 'leaves-mid-stream', stream: true, hold: true })));
    await client.waitFor('data: {"text":" first"');
    assert.match(client.received, /^HTTP\/1\.1 200 OK\r\n[^]*content-type: text\/event-stream; charset=utf-8\r\n[^]*transfer-encoding: chunked\r\n/);
    client.destroy();
    const held = c.decodes[0].generations.find((g) => g.json.rid === 'leaves-mid-stream')!;
    await held.cutOff; // the node side: its request's connection closed
    await good;
    assert.equal(metricValue(await metrics(c), 'pd_node_router_requests_total{route="/generate",outcome="aborted"}'), before + 1);
  });

  test('pipelined generations are answered in order, each with its own rid', async () => {
    const client = await RawClient.connect(port(c));
    const good = goodTraffic(c, 'pipelined');
    try {
      const rids = ['pipe-a', 'pipe-b', 'pipe-c'];
      client.send(rids.map((rid) => postText('/v1/completions', JSON.stringify({ prompt: 'hi', rid }))).join(''));
      for (const rid of rids) {
        const answer = await client.next();
        assert.equal(answer.status, 200);
        assert.equal(JSON.parse(answer.body).rid, rid);
      }
      await good;
    } finally {
      client.destroy();
    }
  });

  test('a non-generation route after a generation on the same connection goes to Fastify, and generations still work there', async () => {
    const before = metricValue(await metrics(c), 'pd_node_router_requests_total{route="/generate",outcome="success"}');
    const client = await RawClient.connect(port(c));
    try {
      client.send(postText('/generate', JSON.stringify({ text: 'hi', rid: 'raw-first' })));
      assert.equal(JSON.parse((await client.next()).body).rid, 'raw-first');
      client.send('GET /v1/models HTTP/1.1\r\nhost: t\r\n\r\n');
      const models = await client.next();
      assert.equal(models.status, 200);
      assert.equal(JSON.parse(models.body).object, 'list');
      client.send('GET /generate HTTP/1.1\r\nhost: t\r\n\r\n');
      const get = await client.next();
      assert.equal(get.status, 404, 'other methods on a generation path are Fastify’s, as before');
      assert.equal(JSON.parse(get.body).error.message, 'no route for GET /generate');
      client.send(postText('/generate', JSON.stringify({ text: 'hi', rid: 'after-handover' })));
      assert.equal(JSON.parse((await client.next()).body).rid, 'after-handover');
    } finally {
      client.destroy();
    }
    assert.equal(metricValue(await metrics(c), 'pd_node_router_requests_total{route="/generate",outcome="success"}') - before, 2, 'both paths count in the same series');
  });

  test('bounds on the front: 413, 431, 400 naming the field, bad JSON; each beside good traffic', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['big body', `POST /generate HTTP/1.1\r\nhost: t\r\ncontent-length: ${1024 * 1024 + 1}\r\n\r\n`, 413, /over the limit/],
      ['big head', `POST /generate HTTP/1.1\r\nhost: t\r\nx-big: ${'a'.repeat(16 * 1024)}\r\n\r\n`, 431, /head longer than/],
      ['both framings', 'POST /generate HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}', 400, /both Transfer-Encoding and Content-Length/],
      ['own room', postText('/generate', '{"text":"hi","bootstrap_room":5}'), 400, /bootstrap_room is set by the router/],
      ['not JSON', postText('/v1/chat/completions', '{"messages":'), 400, /not valid JSON/],
      ['not an object', postText('/generate', '[1]'), 400, /must be a JSON object/],
    ];
    for (const [what, bytes, status, message] of cases) {
      const client = await RawClient.connect(port(c));
      const good = goodTraffic(c, what.replace(/ /g, '-'));
      try {
        client.send(bytes);
        const answer = await client.next();
        assert.equal(answer.status, status, what);
        assert.match(JSON.parse(answer.body).error.message, message, what);
        if (what === 'own room') assert.equal(JSON.parse(answer.body).error.param, 'bootstrap_room');
        await good;
      } finally {
        client.destroy();
      }
    }
  });

  test('Expect: 100-continue and a chunked body through the router', async () => {
    const client = await RawClient.connect(port(c));
    try {
      client.send('POST /generate HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n');
      await client.waitFor('HTTP/1.1 100 Continue\r\n\r\n');
      const body = JSON.stringify({ text: 'hi', rid: 'continued' });
      client.send(`${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
      assert.equal(JSON.parse((await client.next()).body).rid, 'continued');
    } finally {
      client.destroy();
    }
  });
});

describe('router raw front with bounds', { timeout: 60_000 }, () => {
  test('--max-concurrent-requests: a request beyond the bound is 503 with Retry-After; --api-key: 401 without it', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [echoDecode(kv)], { maxConcurrentRequests: 1, apiKey: 'k' });
    const auth = 'authorization: Bearer k\r\n';
    const holder = await RawClient.connect(c.router.port);
    const other = await RawClient.connect(c.router.port);
    const keyless = await RawClient.connect(c.router.port);
    try {
      // Refused on its head: the answer comes with not one of its 1 MB sent, and no 100 Continue.
      keyless.send('POST /generate HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\nexpect: 100-continue\r\n\r\n');
      const refused = await keyless.next();
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.connection, 'close');
      assert.equal(JSON.parse(refused.body).error.code, 'invalid_api_key');
      holder.send(postText('/generate', JSON.stringify({ text: 'hi', stream: true, hold: true }), auth));
      await holder.waitFor('data: {"text":" first"');
      other.send(postText('/generate', '{"text":"hi"}', auth));
      const full = await other.next();
      assert.equal(full.status, 503);
      assert.equal(full.headers['retry-after'], '1');
      assert.match(JSON.parse(full.body).error.message, /--max-concurrent-requests 1/);
      holder.destroy();
      await c.decodes[0].generations[0].cutOff;
      // The slot came back when the holder left.
      other.send(postText('/generate', JSON.stringify({ text: 'hi', rid: 'after-slot' }), auth));
      const served = await other.next();
      assert.equal(served.status, 200);
      assert.equal(JSON.parse(served.body).rid, 'after-slot');
    } finally {
      holder.destroy();
      other.destroy();
      keyless.destroy();
      await c.close();
    }
  });
});
