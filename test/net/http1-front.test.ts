/**
 * The raw HTTP/1.1 front against hostile clients on real sockets: each fault (slowloris head and
 * body, oversized head and body, bad framing, a client leaving mid-body) gets its status and costs
 * only its own connection, while good clients on other connections keep getting their own answers.
 * Keep-alive, pipelining (answers in order), Expect: 100-continue, chunked bodies and the handover of
 * a connection to the http.Server behind are proved on the wire. Short bounds make the timeouts
 * happen within the test; no timing is asserted.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Http1Front, type Http1Handler } from '../../src/net/http1-front.js';
import { postText, RawClient } from '../helpers/raw-http-client.js';

const LIMITS = { maxHeadBytes: 1024, maxBodyBytes: 4096, maxBodyBytesSetBy: '--body-limit', headTimeoutMs: 300, bodyTimeoutMs: 300, keepAliveTimeoutMs: 60_000 };
/** Requests the front is answering, as it reports them. */
let inFlight = 0;
const requests = { started: () => void inFlight++, finished: () => void inFlight-- };
/** Good clients running beside each fault, and the requests each sends. */
const GOOD_CLIENTS = 3;
const GOOD_REQUESTS = 4;

describe('http1 front', () => {
  let server: http.Server;
  let front: Http1Front;
  let port: number;
  /** Ids of the requests the front's handler saw, in order. */
  const served: string[] = [];
  const handlerErrors: unknown[] = [];

  before(async () => {
    // The app behind: answers whatever it gets, saying it was the fallback.
    server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ fallback: true, method: req.method, url: req.url, body: Buffer.concat(parts).toString() })));
    });
    // Echoes the body's id; answers later the lower `delay` asks (so pipelined answers would cross if unordered).
    const echo: Http1Handler = (req, res) => {
      const json = JSON.parse(req.body.toString()) as { id: string; delay?: number };
      served.push(json.id);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: json.id, bytes: req.body.length }));
      }, json.delay ?? 0);
    };
    const stream: Http1Handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.write('data: 2\n\n');
      res.end('data: [DONE]\n\n');
    };
    front = new Http1Front(server, (head) => (head.method !== 'POST' ? null : head.path === '/echo' ? echo : head.path === '/stream' ? stream : null), { ...LIMITS, errorBody: (status, message) => JSON.stringify({ error: { status, message } }), requests }, (err) => handlerErrors.push(err));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    front.destroyAll();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.deepEqual(handlerErrors, []);
  });

  /** Good keep-alive clients, each sending its requests one after another and checking each answer is its own. */
  async function goodTraffic(tag: string): Promise<void> {
    await Promise.all(
      Array.from({ length: GOOD_CLIENTS }, async (_, c) => {
        const client = await RawClient.connect(port);
        try {
          for (let i = 0; i < GOOD_REQUESTS; i++) {
            const id = `${tag}-${c}-${i}`;
            client.send(postText('/echo', JSON.stringify({ id })));
            const answer = await client.next();
            assert.equal(answer.status, 200);
            assert.equal(JSON.parse(answer.body).id, id);
            assert.equal(answer.headers.connection, 'keep-alive');
          }
        } finally {
          client.destroy();
        }
      }),
    );
  }

  /** Runs a fault on its own connection beside good traffic; returns the fault's answer and waits for its connection to close. */
  async function fault(tag: string, bytes: string, then?: (client: RawClient) => void): Promise<{ status: number; message: string }> {
    const client = await RawClient.connect(port);
    const good = goodTraffic(tag);
    try {
      client.send(bytes);
      then?.(client);
      const answer = await client.next();
      assert.equal(answer.headers.connection, 'close');
      await client.closed; // the front closed the faulty connection
      await good;
      return { status: answer.status, message: JSON.parse(answer.body).error.message };
    } finally {
      client.destroy();
    }
  }

  test('keep-alive, chunked request bodies and Expect: 100-continue', async () => {
    const client = await RawClient.connect(port);
    try {
      client.send(postText('/echo', '{"id":"plain"}'));
      assert.deepEqual(JSON.parse((await client.next()).body), { id: 'plain', bytes: 14 });
      client.send('POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n6\r\n{"id":\r\n');
      client.send('9\r\n"chunked"\r\n1;ext=1\r\n}\r\n0\r\n\r\n');
      assert.deepEqual(JSON.parse((await client.next()).body), { id: 'chunked', bytes: 16 });
      const body = '{"id":"continued"}';
      client.send(`POST /echo HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\ncontent-length: ${body.length}\r\n\r\n`);
      await client.waitFor('HTTP/1.1 100 Continue\r\n\r\n');
      client.send(body);
      assert.equal(JSON.parse((await client.next()).body).id, 'continued');
      client.send('POST /stream HTTP/1.1\r\nhost: t\r\ncontent-length: 0\r\n\r\n');
      const streamed = await client.next();
      assert.equal(streamed.headers['transfer-encoding'], 'chunked');
      assert.equal(streamed.body, 'data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
    } finally {
      client.destroy();
    }
  });

  test('pipelined requests are answered in order, each with its own answer', async () => {
    const client = await RawClient.connect(port);
    const good = goodTraffic('pipe');
    try {
      // The first answers last if the front ran them at once.
      const ids = ['p0', 'p1', 'p2', 'p3'];
      client.send(ids.map((id, i) => postText('/echo', JSON.stringify({ id, delay: (ids.length - i) * 20 }))).join(''));
      for (const id of ids) assert.equal(JSON.parse((await client.next()).body).id, id);
      await good;
    } finally {
      client.destroy();
    }
  });

  test('pipelined requests that arrive in pieces while one is answered are kept in order and whole', async () => {
    const client = await RawClient.connect(port);
    try {
      const before = served.length;
      client.send(postText('/echo', JSON.stringify({ id: 'busy', delay: 300 })));
      while (served.length === before) await sleep(5);
      // Two requests cut at arbitrary points, each piece its own read while 'busy' is being answered.
      const rest = postText('/echo', JSON.stringify({ id: 'q1' })) + postText('/echo', JSON.stringify({ id: 'q2' }));
      const cuts = [0, 7, 40, 90, 130, rest.length];
      for (let i = 0; i + 1 < cuts.length; i++) {
        client.send(rest.slice(cuts[i], cuts[i + 1]));
        await sleep(10);
      }
      // Every piece arrived before the busy request was answered: none of them was parsed yet.
      assert.deepEqual(served.slice(before), ['busy']);
      for (const id of ['busy', 'q1', 'q2']) assert.equal(JSON.parse((await client.next()).body).id, id);
    } finally {
      client.destroy();
    }
  });

  test('a request the front does not claim hands the connection over, for the rest of its life', async () => {
    const client = await RawClient.connect(port);
    try {
      client.send(postText('/echo', '{"id":"before-handover"}'));
      assert.equal(JSON.parse((await client.next()).body).id, 'before-handover');
      // A GET, then a pipelined POST the front would claim: both are the http.Server's now.
      client.send(`GET /metrics?x=1 HTTP/1.1\r\nhost: t\r\n\r\n${postText('/echo', '{"id":"after"}')}`);
      assert.deepEqual(JSON.parse((await client.next()).body), { fallback: true, method: 'GET', url: '/metrics?x=1', body: '' });
      assert.deepEqual(JSON.parse((await client.next()).body), { fallback: true, method: 'POST', url: '/echo', body: '{"id":"after"}' });
      assert.ok(!served.includes('after'));
    } finally {
      client.destroy();
    }
  });

  test('a head split across reads over a long time is refused with 408 (slowloris)', async () => {
    const got = await fault('slowloris', 'POST /echo HTTP/1.1\r\nhost: t\r\n', (client) => client.send('x-slow: 1\r\n'));
    assert.equal(got.status, 408);
    assert.match(got.message, /request head not received within 0.3 s/);
  });

  test('a body that does not come is refused with 408', async () => {
    const got = await fault('slowbody', 'POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 100\r\n\r\n{"id":');
    assert.equal(got.status, 408);
    assert.match(got.message, /request body not received/);
  });

  test('an oversized head is 431', async () => {
    const got = await fault('bighead', `POST /echo HTTP/1.1\r\nhost: t\r\nx-big: ${'a'.repeat(LIMITS.maxHeadBytes)}\r\n\r\n`);
    assert.equal(got.status, 431);
  });

  test('an oversized body is 413, at once from Content-Length and as soon as chunk sizes pass the bound', async () => {
    const declared = await fault('bigbody', `POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: ${LIMITS.maxBodyBytes + 1}\r\n\r\n`);
    assert.equal(declared.status, 413);
    const chunked = await fault('bigchunks', `POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n${(LIMITS.maxBodyBytes + 1).toString(16)}\r\n`);
    assert.equal(chunked.status, 413);
    // The answer names what raises the bound, as the front was told.
    for (const got of [declared, chunked]) assert.match(got.message, new RegExp(`over the limit of ${LIMITS.maxBodyBytes} bytes \\(--body-limit\\)`));
  });

  test('bad framing is 400 (bad Content-Length, both Content-Length and Transfer-Encoding, bad chunk size) or 501 (unknown coding)', async () => {
    for (const [tag, bytes, status, message] of [
      ['badcl', 'POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 12abc\r\n\r\n', 400, /bad Content-Length/],
      ['twocl', 'POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}', 400, /bad Content-Length/],
      ['clte', 'POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}', 400, /both Transfer-Encoding and Content-Length/],
      ['badchunk', 'POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 400, /bad chunk size/],
      ['gzip', 'POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: gzip\r\n\r\n', 501, /unsupported Transfer-Encoding/],
      ['nohost', 'POST /echo HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}', 400, /without a Host header/],
      ['expect', 'POST /echo HTTP/1.1\r\nhost: t\r\nexpect: 200-ok\r\ncontent-length: 2\r\n\r\n{}', 417, /unsupported Expect/],
    ] as const) {
      const got = await fault(tag, bytes);
      assert.equal(got.status, status, tag);
      assert.match(got.message, message, tag);
    }
  });

  test('a client that leaves mid-body costs only its connection: the request is never served', async () => {
    const client = await RawClient.connect(port);
    const good = goodTraffic('leaver');
    client.send('POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 40\r\n\r\n{"id":"left-mid-body"');
    client.destroy();
    await client.closed;
    await good;
    // A request after it on a fresh connection is served; the cut one never was.
    const next = await RawClient.connect(port);
    try {
      next.send(postText('/echo', '{"id":"after-leaver"}'));
      assert.equal(JSON.parse((await next.next()).body).id, 'after-leaver');
      assert.ok(!served.includes('left-mid-body'));
      assert.equal(inFlight, 0);
    } finally {
      next.destroy();
    }
  });
});
