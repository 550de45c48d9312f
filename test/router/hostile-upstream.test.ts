/**
 * The router against a decode node that misbehaves at the HTTP level (a raw TCP server in the test):
 * a truncated body, a bad chunk size, two answers to one request, an answer before the request body
 * was read, an answer that never comes, a stream closed mid-way. Each costs its own request the right
 * error, and requests in flight beside it, on the same node and pool, get their own answers (each
 * echoes its rid, so an answer given to the wrong request would show).
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startRouter, type RouterHandle } from '../../src/router/start-router.js';
import { jsonResponse, RawHttpServer, type RawRequest } from '../helpers/raw-http-server.js';
import { sseData } from '../server/support.js';
import { post } from './cluster.js';
import { FakeNode, goodPrefill, RoomBoard } from './fake-pd-node.js';

/** Requests sent beside each faulty one. */
const NEIGHBOURS = 8;
/** Short, for the request that never gets an answer; the answered ones take milliseconds. */
const REQUEST_TIMEOUT_SECS = 2;
/** A body that takes several reads to arrive, so the node can answer before reading all of it (below the router's 1 MiB body limit). */
const EARLY_PAD = 'x'.repeat(900 * 1024);

const FIRST_EVENT = 'data: {"text":"first"}\n\n';

function chunk(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

function decodeBehaviour(req: RawRequest, socket: net.Socket): void {
  if (req.method === 'GET') {
    socket.write(jsonResponse({ role: 'decode' }));
    return;
  }
  const text = /"text":"([a-z]+)"/.exec(req.body)?.[1];
  const rid = /"rid":"([^"]+)"/.exec(req.body)?.[1];
  switch (text) {
    case 'truncate':
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"text":');
      return;
    case 'badchunk':
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nnothex\r\n{}\r\n0\r\n\r\n');
      return;
    case 'double':
      socket.write(jsonResponse({ text: rid }) + jsonResponse({ text: 'intruder' }));
      return;
    case 'early':
      socket.end(`HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 27\r\n\r\n{"error":{"message":"no!"}}`);
      return;
    case 'stall':
      return;
    case 'cut':
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${chunk(FIRST_EVENT)}`, () => socket.destroy());
      return;
    default:
      socket.write(jsonResponse({ text: rid, meta_info: { id: rid } }));
  }
}

describe('router against a faulty decode node', { timeout: 60_000 }, () => {
  let prefill: FakeNode;
  let decode: RawHttpServer;
  let router: RouterHandle;

  before(async () => {
    prefill = await FakeNode.start(goodPrefill(new RoomBoard()));
    decode = await RawHttpServer.start(decodeBehaviour, { peekBytes: 64 });
    router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: prefill.url, bootstrapPort: 9123 }], decode: [{ url: decode.url }], requestTimeoutSecs: REQUEST_TIMEOUT_SECS });
  });
  after(async () => {
    await router?.close();
    await decode?.close();
    await prefill?.close();
  });

  /** The faulty request and NEIGHBOURS good ones at once; every good one must get its own rid back. */
  async function withNeighbours(fault: string, extra: Record<string, unknown> = {}): Promise<{ status: number; text: string }> {
    const faulty = post(`${router.url}/generate`, JSON.stringify({ text: fault, rid: `fault-${fault}`, ...extra }));
    const good = Array.from({ length: NEIGHBOURS }, (_, i) => post(`${router.url}/generate`, JSON.stringify({ text: 'ok', rid: `${fault}-${i}` })));
    const answers = await Promise.all(good);
    answers.forEach((a, i) => {
      assert.equal(a.status, 200, a.text);
      assert.equal(JSON.parse(a.text).text, `${fault}-${i}`);
    });
    return faulty;
  }

  function errorOf(text: string): string {
    return (JSON.parse(text) as { error: { message: string } }).error.message;
  }

  test('a truncated body: 503 naming the broken connection', async () => {
    const { status, text } = await withNeighbours('truncate');
    assert.equal(status, 503);
    assert.match(errorOf(text), new RegExp(`decode node ${decode.url}: connection to .* closed before the response ended`));
  });

  test('a bad chunk size: 503 naming the malformed answer', async () => {
    const { status, text } = await withNeighbours('badchunk');
    assert.equal(status, 503);
    assert.match(errorOf(text), /malformed response from .*: bad chunk size line "nothex"/);
  });

  test('two answers to one request: the first is relayed, the second reaches no one', async () => {
    const { status, text } = await withNeighbours('double');
    assert.equal(status, 200);
    assert.equal(JSON.parse(text).text, 'fault-double');
    // Sequential requests now reuse whatever connections are idle: none may carry the intruder.
    for (let i = 0; i < NEIGHBOURS; i++) assert.equal(JSON.parse((await post(`${router.url}/generate`, JSON.stringify({ text: 'ok', rid: `after-${i}` }))).text).text, `after-${i}`);
  });

  test('an answer before the request body was read: the node’s 400 is relayed', async () => {
    const { status, text } = await withNeighbours('early', { pad: EARLY_PAD });
    assert.equal(status, 400);
    assert.equal(errorOf(text), 'no!');
    const seen = decode.requests.find((r) => r.body.startsWith('{"text":"early"'));
    assert.ok(seen !== undefined && seen.body.length < EARLY_PAD.length, 'the node answered before the whole body arrived');
  });

  test('an answer that never comes: 504 after the request timeout', async () => {
    const { status, text } = await withNeighbours('stall');
    assert.equal(status, 504);
    assert.match(errorOf(text), new RegExp(`timed out after ${REQUEST_TIMEOUT_SECS} s`));
  });

  test('a stream closed mid-way: the events so far, an error event and [DONE]', async () => {
    const { status, text } = await withNeighbours('cut', { stream: true });
    assert.equal(status, 200);
    const data = sseData(text);
    assert.equal(data.length, 3, text);
    assert.equal(JSON.parse(data[0]).text, 'first');
    assert.match(JSON.parse(data[1]).error.message, new RegExp(`decode node ${decode.url}: connection to .* closed before the response ended`));
    assert.equal(data[2], '[DONE]');
  });
});
