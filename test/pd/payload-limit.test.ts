/**
 * `--max-payload-size` (sgl-router's flag, on the router and the nodes): raised on both, a 2 MiB
 * body (over the 1 MiB default) goes through PD; a body over the router's limit is refused 413
 * naming the flag before any node sees it; a node keeps its own limit (default 1 MiB) and answers
 * 413 the same way; each refusal beside a good request that succeeds.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { postJson, stopAll, type NodeProcess } from '../helpers/processes.js';
import { metricValue } from '../server/support.js';
import { startCluster, type Cluster } from './cluster.js';

const LIMIT = 3_000_000;
const GOOD = { text: 'hello', sampling_params: { temperature: 0, max_new_tokens: 2 } };

/** GOOD as JSON text of `bytes` bytes (whitespace before the closing brace). */
function paddedTo(bytes: number): string {
  const json = JSON.stringify(GOOD);
  return `${json.slice(0, -1)}${' '.repeat(bytes - json.length)}}`;
}

/**
 * POSTs `body` with `Expect: 100-continue`, sending it only if the server asks for it: a refusal
 * from the Content-Length alone is then read whole, however fast the server closes (a plain upload
 * of megabytes can be cut by the server's close before the client reads the 413).
 */
function postExpecting(url: string, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' }, timeout: 30_000 });
    req.on('continue', () => req.end(body));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) })).on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.flushHeaders();
  });
}

describe('--max-payload-size', () => {
  let cluster: Cluster;
  let decode: NodeProcess;
  let colocated: NodeHandle;

  before(async () => {
    cluster = await startCluster('tcp', ['--max-payload-size', String(LIMIT)]);
    const [prefill, d] = await Promise.all([cluster.addNode('prefill', ['--max-payload-size', String(LIMIT)]), cluster.addNode('decode', ['--max-payload-size', String(LIMIT)])]);
    decode = d;
    colocated = await startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath });
    await cluster.waitForNodes([prefill, decode]);
  });
  after(async () => {
    await colocated?.close();
    await stopAll();
  });

  test('raised on the router and the nodes, a 2 MiB body goes through PD', async () => {
    const body = paddedTo(2 * 1024 * 1024);
    const res = await postJson(`${cluster.router.url}/generate`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.output_ids.length, 2);
  });

  test('over the router\'s limit: 413 naming the flag, no node reached; the next request succeeds', async () => {
    const before = metricValue(await (await fetch(`${decode.url}/metrics`)).text(), 'sglang:num_requests_total');
    const [refused, good] = await Promise.all([postExpecting(`${cluster.router.url}/generate`, paddedTo(LIMIT + 1)), postJson(`${cluster.router.url}/generate`, GOOD)]);
    assert.equal(refused.status, 413);
    assert.match(refused.body.error.message, new RegExp(`over the limit of ${LIMIT} bytes \\(--max-payload-size\\)`));
    assert.equal(good.status, 200);
    const after = metricValue(await (await fetch(`${decode.url}/metrics`)).text(), 'sglang:num_requests_total');
    assert.equal(after - before, 1, 'only the good request reached the decode node');
  });

  test('a node keeps its own limit (default 1 MiB): 413 naming the flag', async () => {
    const [refused, good] = await Promise.all([postExpecting(`${colocated.url}/generate`, paddedTo(1024 * 1024 + 1)), postJson(`${colocated.url}/generate`, paddedTo(1024 * 1024))]);
    assert.equal(refused.status, 413);
    assert.equal(refused.body.error.message, 'request body is over the limit of 1048576 bytes (--max-payload-size)');
    assert.equal(good.status, 200, 'exactly the limit is read');
  });
});
