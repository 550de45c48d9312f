/**
 * `--api-key` (SGLang's) on nodes and on the router, real processes: the HTTP API wants
 * `Authorization: Bearer KEY` (401 otherwise), /health* and /metrics stay open, and a router with the
 * key presents it to the nodes, so a PD request works end to end; a router without it is refused by
 * the nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProcess, stopAll, type NodeProcess } from '../helpers/processes.js';

const KEY = 'sk-test-0123456789';

interface Answer {
  status: number;
  body: { error?: { message: string; code: string | null }; text?: string };
}

async function call(url: string, method: 'GET' | 'POST', authorization?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : { text } };
}

const GENERATE = { text: 'Hello', sampling_params: { temperature: 0, max_new_tokens: 4 } };
/** Every generation route, and a read-only one, with a body each accepts. */
const PROTECTED: [method: 'GET' | 'POST', path: string, body?: unknown][] = [
  ['POST', '/generate', GENERATE],
  ['POST', '/v1/completions', { prompt: 'Hello', max_tokens: 4 }],
  ['POST', '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4 }],
  ['GET', '/v1/models'],
  ['GET', '/get_model_info'],
];

describe('--api-key on nodes and the router', () => {
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let router: NodeProcess;
  let keyless: NodeProcess;

  before(async () => {
    const common = ['--port', '0', '--api-key', KEY, '--log-level', 'info'];
    [prefill, decode] = await Promise.all([
      startProcess(['--role', 'prefill', '--disaggregation-bootstrap-port', '0', ...common]),
      startProcess(['--role', 'decode', ...common]),
    ]);
    const nodes = ['--prefill', prefill.url, String(prefill.bootstrapPort), '--decode', decode.url, '--port', '0', '--registry-port', '0', '--log-level', 'info'];
    [router, keyless] = await Promise.all([startProcess(['--role', 'router', ...nodes, '--api-key', KEY]), startProcess(['--role', 'router', ...nodes, '--max-retries', '0'])]);
  });
  after(stopAll);

  test('missing or wrong key: 401 on the generation and info routes of nodes and router', async () => {
    for (const target of [prefill, decode, router]) {
      for (const [method, path, body] of PROTECTED) {
        for (const authorization of [undefined, 'Bearer wrong', KEY, `Bearer ${KEY}x`]) {
          const r = await call(`${target.url}${path}`, method, authorization, body);
          assert.equal(r.status, 401, `${method} ${target.url}${path} with ${authorization}: ${JSON.stringify(r.body)}`);
          assert.equal(r.body.error?.code, 'invalid_api_key');
        }
      }
    }
  });

  test('/health and /metrics stay open', async () => {
    for (const target of [prefill, decode, router]) {
      for (const path of ['/health', '/metrics']) {
        const r = await call(`${target.url}${path}`, 'GET');
        assert.equal(r.status, 200, `${target.url}${path}: ${JSON.stringify(r.body)}`);
      }
    }
  });

  test('with the key: a node answers, and the router presents the key to the nodes end to end', async () => {
    const auth = `Bearer ${KEY}`;
    const models = await call(`${decode.url}/v1/models`, 'GET', auth);
    assert.equal(models.status, 200, JSON.stringify(models.body));
    // SGLang lists its key in /get_server_info; pd-node says only that one is set.
    const info = await call(`${decode.url}/get_server_info`, 'GET', auth);
    assert.equal((info.body as Record<string, unknown>).api_key, '(set)');
    assert.ok(!JSON.stringify(info.body).includes(KEY), 'the key appears in /get_server_info');
    for (const [method, path, body] of PROTECTED) {
      const r = await call(`${router.url}${path}`, method, auth, body);
      assert.equal(r.status, 200, `${method} ${path}: ${JSON.stringify(r.body)}`);
    }
    const pd = await call(`${router.url}/generate`, 'POST', auth, GENERATE);
    assert.equal(typeof pd.body.text, 'string');
  });

  test('a router without the key is refused by the nodes (their 401 is relayed)', async () => {
    const r = await call(`${keyless.url}/generate`, 'POST', undefined, GENERATE);
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'invalid_api_key');
  });
});
