/**
 * The raw-socket HTTP/1.1 client against an HTTPS node (a node behind TLS: `--prefill https://...`):
 * a certificate the process does not trust fails the exchange as `connect` naming the reason, and
 * one it trusts (here through NODE_EXTRA_CA_CERTS, as an operator would trust a private CA, in a
 * child process since Node reads it at start) carries exchanges, reusing its one TLS connection.
 * The self-signed certificate is made by `openssl` for the test; without openssl the test skips.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Http1Error, Http1Pool } from '../../src/net/http1-pool.js';

const CONNECT_TIMEOUT_MS = 5_000;
/** Bound on the child that makes the trusted exchanges (start-up included). */
const CHILD_TIMEOUT_MS = 30_000;
const POOL_MODULE = new URL('../../src/net/http1-pool.js', import.meta.url).href;

function opensslMissing(): string | false {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'openssl is not on PATH';
  }
}

describe('Http1Pool over TLS', { skip: opensslMissing() }, () => {
  let dir: string;
  let server: Server;
  let port: number;
  /** TLS connections the server accepted. */
  let connections = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pd-node-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const { n } = JSON.parse(Buffer.concat(parts).toString('utf8')) as { n: number };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ echo: n, secure: true }));
      });
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const origin = () => ({ url: `https://127.0.0.1:${port}`, secure: true, hostname: '127.0.0.1', port, host: `127.0.0.1:${port}` });

  test('a certificate the process does not trust fails the exchange as connect, naming why', async () => {
    const pool = new Http1Pool(origin(), 4);
    try {
      const err = await new Promise<Http1Error | string>((resolve) => {
        pool.request(
          { method: 'POST', path: '/generate', headerLines: '', body: '{"n":1}', connectTimeoutMs: CONNECT_TIMEOUT_MS },
          { onHead: () => undefined, onData: () => undefined, onEnd: () => resolve('answered'), onError: resolve },
        );
      });
      assert.ok(err instanceof Http1Error, `expected a failure, got ${String(err)}`);
      assert.equal(err.kind, 'connect');
      assert.match(err.message, /SELF_SIGNED|CERT/);
    } finally {
      pool.close();
    }
  });

  test('a trusted certificate carries exchanges, two on one TLS connection', async () => {
    const before = connections;
    // Two exchanges one after the other on one pool, in a process that trusts the certificate.
    const script = `
      import { Http1Pool } from ${JSON.stringify(POOL_MODULE)};
      const pool = new Http1Pool(${JSON.stringify(origin())}, 4);
      const call = (n) => new Promise((resolve) => {
        const parts = [];
        let status = 0;
        pool.request({ method: 'POST', path: '/generate', headerLines: '', body: JSON.stringify({ n }), connectTimeoutMs: ${CONNECT_TIMEOUT_MS} }, {
          onHead: (h) => (status = h.status),
          onData: (c) => parts.push(Buffer.from(c)),
          onEnd: () => resolve({ status, body: Buffer.concat(parts).toString('utf8') }),
          onError: (err) => resolve({ error: err.kind + ': ' + err.message }),
        });
      });
      const answers = [await call(1), await call(2)];
      pool.close();
      process.stdout.write(JSON.stringify(answers));
    `;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem') }, timeout: CHILD_TIMEOUT_MS }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    const answers = JSON.parse(out) as { status?: number; body?: string; error?: string }[];
    assert.deepEqual(answers, [
      { status: 200, body: JSON.stringify({ echo: 1, secure: true }) },
      { status: 200, body: JSON.stringify({ echo: 2, secure: true }) },
    ]);
    assert.equal(connections - before, 1, 'the second exchange reused the first TLS connection');
  });
});
