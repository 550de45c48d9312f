/**
 * The raw-socket HTTP/1.1 client against real servers that misbehave on purpose (raw TCP, in the
 * test): every fault fails that exchange only, with its kind, and the next exchange on the same pool
 * gets its own answer on a sound connection; reuse happens only when it is safe.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Http1Error, Http1Pool, type Http1Exchange } from '../../src/net/http1-pool.js';
import type { ResponseHead } from '../../src/net/http1-parser.js';
import { jsonResponse, RawHttpServer, type RawBehavior } from '../helpers/raw-http-server.js';

const CONNECT_TIMEOUT_MS = 5_000;
/** Longer than any test: a connection closed during a test was closed for its fault, not for idling. */
const NEVER_IDLE_MS = 600_000;

interface Got {
  head: ResponseHead;
  body: string;
}

function origin(server: RawHttpServer) {
  return { url: server.url, secure: false, hostname: '127.0.0.1', port: server.port, host: `127.0.0.1:${server.port}` };
}

/** One exchange; resolves with the answer or the Http1Error. */
function call(pool: Http1Pool, body: unknown = { n: 1 }, onStart?: (ex: Http1Exchange) => void): Promise<Got | Http1Error> {
  return new Promise((resolve) => {
    let head!: ResponseHead;
    const parts: Buffer[] = [];
    const ex = pool.request(
      { method: 'POST', path: '/generate', headerLines: '', body: typeof body === 'string' ? body : JSON.stringify(body), connectTimeoutMs: CONNECT_TIMEOUT_MS },
      {
        onHead: (h) => (head = h),
        onData: (c) => parts.push(Buffer.from(c)),
        onEnd: () => resolve({ head, body: Buffer.concat(parts).toString('utf8') }),
        onError: (err) => resolve(err),
      },
    );
    onStart?.(ex);
  });
}

function answer(got: Got | Http1Error): Got {
  if (got instanceof Http1Error) assert.fail(`expected an answer, got ${got.kind}: ${got.message}`);
  return got;
}

function failure(got: Got | Http1Error, kind: string, message: RegExp): void {
  assert.ok(got instanceof Http1Error, `expected a failure, got ${JSON.stringify(got)}`);
  assert.equal(got.kind, kind);
  assert.match(got.message, message);
}

/** Echoes `{echo: n}` for a body `{n}`; a body with `fault` is handed to `faults`. */
function echoOr(faults: (fault: string, socket: import('node:net').Socket) => void): RawBehavior {
  return (req, socket) => {
    const json = JSON.parse(req.body) as { n?: number; fault?: string };
    if (json.fault !== undefined) faults(json.fault, socket);
    else socket.write(jsonResponse({ echo: json.n }));
  };
}

async function withServer(behavior: RawBehavior, run: (server: RawHttpServer, pool: Http1Pool) => Promise<void>, maxConnections = 8, peekBytes?: number): Promise<void> {
  const server = await RawHttpServer.start(behavior, { peekBytes });
  const pool = new Http1Pool(origin(server), maxConnections, NEVER_IDLE_MS);
  try {
    await run(server, pool);
  } finally {
    pool.close();
    await server.close();
  }
}

describe('http1 pool', { timeout: 30_000 }, () => {
  test('Content-Length and chunked answers; a sound connection is reused', async () => {
    await withServer(
      echoOr((fault, socket) => {
        // Header names in any case, repeated, and one a letter away from a name the parser knows.
        if (fault === 'chunked') socket.write('HTTP/1.1 200 OK\r\nTransfer-ENCODING: chunked\r\nContent-type: a\r\ncontent-TYPE: b\r\nContent-Typo: c\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n');
      }),
      async (server, pool) => {
        assert.equal(answer(await call(pool, { n: 1 })).body, '{"echo":1}');
        const chunked = answer(await call(pool, { fault: 'chunked' }));
        assert.equal(chunked.body, 'abcde');
        assert.deepEqual(chunked.head.headers, { 'transfer-encoding': 'chunked', 'content-type': 'a, b', 'content-typo': 'c' });
        assert.equal(answer(await call(pool, { n: 3 })).body, '{"echo":3}');
        assert.equal(server.connections, 1, 'three exchanges on one keep-alive connection');
      },
    );
  });

  test('a truncated body fails that exchange (reset); the next one gets its own answer on a new connection', async () => {
    await withServer(
      echoOr((_fault, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"partial"')),
      async (server, pool) => {
        failure(await call(pool, { fault: 'truncate' }), 'reset', /closed before the response ended/);
        assert.equal(answer(await call(pool, { n: 2 })).body, '{"echo":2}');
        assert.equal(server.connections, 2);
      },
    );
  });

  test('malformed answers are protocol errors: bad chunk size, bad status line, bad header, TE with CL, bare LF', async () => {
    const faults: Record<string, string> = {
      chunk: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      status: 'HTTP/1.1 2000 OK\r\ncontent-length: 0\r\n\r\n',
      header: 'HTTP/1.1 200 OK\r\nbad header\r\ncontent-length: 0\r\n\r\n',
      both: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n',
      lf: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n',
      crlf: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n',
      length: 'HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabc',
    };
    const expected: Record<string, RegExp> = {
      chunk: /bad chunk size line "zz"/,
      status: /bad status line/,
      header: /bad header line "bad header"/,
      both: /both Transfer-Encoding and Content-Length/,
      lf: /bare LF/,
      crlf: /chunk data not followed by CRLF/,
      length: /bad Content-Length/,
    };
    await withServer(
      echoOr((fault, socket) => socket.write(faults[fault])),
      async (server, pool) => {
        for (const fault of Object.keys(faults)) failure(await call(pool, { fault }), 'protocol', expected[fault]);
        assert.equal(answer(await call(pool, { n: 9 })).body, '{"echo":9}');
        assert.equal(server.connections, Object.keys(faults).length + 1, 'every malformed answer ended its connection');
      },
    );
  });

  test('two answers to one request: the first is the answer, the second never reaches anyone', async () => {
    await withServer(
      echoOr((_fault, socket) => socket.write(jsonResponse({ echo: 'first' }) + jsonResponse({ echo: 'intruder' }))),
      async (server, pool) => {
        assert.equal(answer(await call(pool, { fault: 'double' })).body, '{"echo":"first"}');
        assert.equal(answer(await call(pool, { n: 1 })).body, '{"echo":1}');
        assert.equal(server.connections, 2, 'the connection that carried two answers was not reused');
        await server.closedConnection(0);
      },
    );
  });

  test('an answer that arrives on an idle connection ends it; the next request gets a fresh one', async () => {
    let late!: () => void;
    await withServer(
      echoOr((_fault, socket) => {
        socket.write(jsonResponse({ echo: 'first' }));
        late = () => socket.write(jsonResponse({ echo: 'late' }));
      }),
      async (server, pool) => {
        assert.equal(answer(await call(pool, { fault: 'late' })).body, '{"echo":"first"}');
        late();
        await server.closedConnection(0);
        assert.equal(answer(await call(pool, { n: 5 })).body, '{"echo":5}');
        assert.equal(server.connections, 2);
      },
    );
  });

  test('an answer before the request body was written: delivered, and the connection is not reused', async () => {
    // 8 MiB: more than the loopback socket buffers hold, so the write cannot have finished when the answer comes.
    const big = JSON.stringify({ fault: 'early', pad: 'x'.repeat(8 * 1024 * 1024) });
    await withServer(
      (req, socket) => {
        if (req.body.startsWith('{"fault":"early"')) socket.write(jsonResponse({ error: 'too large' }, 413));
        else socket.write(jsonResponse({ echo: (JSON.parse(req.body) as { n: number }).n }));
      },
      async (server, pool) => {
        const early = answer(await call(pool, big));
        assert.equal(early.head.status, 413);
        await server.closedConnection(0);
        assert.equal(answer(await call(pool, { n: 7 })).body, '{"echo":7}');
        assert.equal(server.connections, 2);
      },
      8,
      16,
    );
  });

  test('a stalled answer holds only its own connection; abort destroys it, and a bounded pool hands the next request a connection', async () => {
    await withServer(
      echoOr(() => undefined),
      async (server, pool) => {
        let stalled!: Http1Exchange;
        const first = call(pool, { fault: 'stall' }, (ex) => (stalled = ex));
        await waitUntil(() => server.requests.length === 1);
        // maxConnections 1: this one waits for the stalled connection to go.
        const second = call(pool, { n: 4 });
        stalled.abort();
        await server.closedConnection(0);
        assert.equal(answer(await second).body, '{"echo":4}');
        assert.equal(server.connections, 2);
        // The aborted exchange is never resolved: nothing is reported after abort.
        assert.equal(await Promise.race([first.then(() => 'settled'), Promise.resolve('pending')]), 'pending');
      },
      1,
    );
  });

  test('a stream closed mid-body: the bytes so far, then reset; a body framed by close ends cleanly', async () => {
    await withServer(
      echoOr((fault, socket) => {
        if (fault === 'cut') socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata: \r\n', () => socket.destroy());
        else socket.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
      }),
      async (_server, pool) => {
        failure(await call(pool, { fault: 'cut' }), 'reset', /closed before the response ended/);
        assert.equal(answer(await call(pool, { fault: 'close' })).body, 'until close');
      },
    );
  });

  test('nothing listening: connect', async () => {
    const server = await RawHttpServer.start(() => undefined);
    const { port } = server;
    await server.close();
    const pool = new Http1Pool({ url: `http://127.0.0.1:${port}`, secure: false, hostname: '127.0.0.1', port, host: `127.0.0.1:${port}` }, 4);
    try {
      failure(await call(pool), 'connect', /cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    } finally {
      pool.close();
    }
  });
});

async function waitUntil(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((resolve) => setImmediate(resolve));
}
