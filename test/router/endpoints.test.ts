/**
 * The router's other endpoints: /health, /health_generate, /v1/models and /get_model_info (relayed
 * from a decode node), /get_server_info (per node, errors in place), /flush_cache (per node report),
 * /metrics, unknown routes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startRouter } from '../../src/router/start-router.js';
import { metricValue } from '../server/support.js';
import { post, startCluster } from './cluster.js';
import { failing, FakeNode, goodDecode, goodPrefill, hanging, refusedPort, RoomBoard } from './fake-pd-node.js';

async function get(url: string): Promise<{ status: number; json: any; contentType: string }> {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text), contentType: res.headers.get('content-type') ?? '' };
}

describe('router endpoints', { timeout: 60_000 }, () => {
  test('/health needs an up prefill and an up decode node', async () => {
    const decode = await FakeNode.start(hanging);
    const onlyDecode = await startRouter({ port: 0, logLevel: 'silent', decode: [{ url: decode.url }] });
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [goodDecode(kv)]);
    try {
      const missing = await get(`${onlyDecode.url}/health`);
      assert.equal(missing.status, 503);
      assert.equal(missing.json.error.message, 'no prefill node is known');
      const ok = await fetch(`${c.router.url}/health`);
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), '');
    } finally {
      await onlyDecode.close();
      await decode.close();
      await c.close();
    }
  });

  test('/health_generate runs a 1-token generation through a pair', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [goodDecode(kv)]);
    const bad = await startCluster([failing(500)], [hanging], { maxRetries: 0 });
    try {
      const ok = await fetch(`${c.router.url}/health_generate`);
      assert.equal(ok.status, 200);
      const [probe] = c.decodes[0].generations;
      assert.equal(probe.path, '/generate');
      assert.deepEqual(probe.json.input_ids, [0]);
      assert.equal(probe.json.sampling_params.max_new_tokens, 1);
      assert.equal(c.prefills[0].generations[0].rooms[0], probe.rooms[0]);
      assert.equal(metricValue(await (await fetch(`${c.router.url}/metrics`)).text(), 'pd_node_router_requests_total{route="/generate",outcome="success"}'), 0, 'probes are not requests');

      const failed = await get(`${bad.router.url}/health_generate`);
      assert.equal(failed.status, 503);
      assert.match(failed.json.error.message, /^the probe generation failed: .*answered 500/);
    } finally {
      await c.close();
      await bad.close();
    }
  });

  test('/v1/models and /get_model_info come from a decode node', async () => {
    const dead = `http://127.0.0.1:${await refusedPort()}`;
    const decode = await FakeNode.start(hanging);
    const router = await startRouter({ port: 0, logLevel: 'silent', decode: [{ url: dead }, { url: decode.url }] });
    try {
      const models = await get(`${router.url}/v1/models`);
      assert.equal(models.status, 200);
      assert.equal(models.json.data[0].id, 'fake-model');
      const info = await get(`${router.url}/get_model_info`);
      assert.equal(info.status, 200);
      assert.equal(info.json.model_path, '/models/fake');
      const unknown = await get(`${router.url}/v1/models/other`);
      assert.equal(unknown.status, 404, "the decode node's 404 is relayed");
      assert.deepEqual(
        decode.received.map((r) => r.path),
        ['/v1/models', '/get_model_info', '/v1/models/other'],
      );
    } finally {
      await router.close();
      await decode.close();
    }
  });

  test('/get_server_info: router settings, node states, and each node’s own answer or its error', async () => {
    const dead = `http://127.0.0.1:${await refusedPort()}`;
    const kv = new RoomBoard();
    const prefill = await FakeNode.start(goodPrefill(kv));
    const decode = await FakeNode.start(goodDecode(kv));
    const router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: prefill.url, bootstrapPort: 9000 }], decode: [{ url: decode.url }, { url: dead }], policy: 'least_load' });
    try {
      const { status, json } = await get(`${router.url}/get_server_info`);
      assert.equal(status, 200);
      assert.equal(json.router.policy, 'least_load');
      assert.equal(json.router.max_retries, 2);
      assert.equal(json.router.request_timeout_secs, 600);
      assert.equal(json.router.port, router.port);
      assert.deepEqual(json.router.prefill, [{ url: prefill.url, bootstrap_port: 9000 }]);
      assert.equal(json.router.nodes.length, 3);
      assert.deepEqual(json.prefill, [{ url: prefill.url, role: 'prefill', served_model_name: 'fake-model' }]);
      assert.deepEqual(json.decode[0], { url: decode.url, role: 'decode', served_model_name: 'fake-model' });
      assert.equal(json.decode[1].url, dead);
      assert.match(json.decode[1].error, /cannot connect to .*ECONNREFUSED/);
    } finally {
      await router.close();
      await prefill.close();
      await decode.close();
    }
  });

  test('/flush_cache flushes every node and reports each', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [goodDecode(kv)]);
    const busy = await FakeNode.start((req, res) => {
      res.writeHead(req.path === '/flush_cache' ? 400 : 200, { 'content-type': 'application/json' }).end('{"error":{"message":"busy"}}');
    });
    const mixed = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: c.prefills[0].url, bootstrapPort: 9000 }], decode: [{ url: busy.url }] });
    try {
      const ok = await fetch(`${c.router.url}/flush_cache`, { method: 'POST' });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as any;
      assert.equal(body.success, true);
      assert.deepEqual(body.nodes.map((n: any) => [n.role, n.success, n.status]), [['prefill', true, 200], ['decode', true, 200]]);
      assert.equal(c.prefills[0].received.filter((r) => r.path === '/flush_cache').length, 1);

      const refused = await fetch(`${mixed.url}/flush_cache`, { method: 'POST' });
      assert.equal(refused.status, 400);
      const report = (await refused.json()) as any;
      assert.match(report.error.message, new RegExp(`^cache not flushed on ${busy.url} \\(answered 400: `));
      assert.deepEqual(report.nodes.map((n: any) => n.success), [true, false]);
    } finally {
      await mixed.close();
      await busy.close();
      await c.close();
    }
  });

  test('/metrics is Prometheus text of the router’s own registry; unknown routes are 404', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [goodDecode(kv), goodDecode(kv)]);
    try {
      await post(`${c.router.url}/generate`, '{"text":"x"}');
      const res = await fetch(`${c.router.url}/metrics`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      assert.equal(metricValue(text, 'pd_node_router_nodes{role="prefill",state="up"}'), 1);
      assert.equal(metricValue(text, 'pd_node_router_nodes{role="decode",state="up"}'), 2);
      assert.equal(metricValue(text, 'pd_node_router_requests_total{route="/generate",outcome="success"}'), 1);
      assert.equal(metricValue(text, 'pd_node_router_request_duration_seconds_count{route="/generate"}'), 1);
      const missing = await get(`${c.router.url}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.message, 'no route for GET /nope');
    } finally {
      await c.close();
    }
  });
});
