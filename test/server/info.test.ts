/**
 * Health, info and admin routes of a real node.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { getJson, postJson } from './support.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('health and info routes', () => {
  let node: NodeHandle;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn', pageSize: 8, maxBatchSize: 5 });
  });
  after(async () => {
    await node?.close();
  });

  test('GET /health and /health_generate answer 200', async () => {
    assert.equal((await getJson(`${node.url}/health`)).status, 200);
    assert.equal((await getJson(`${node.url}/health_generate`)).status, 200);
  });

  test('GET /get_model_info describes the loaded model', async () => {
    const { status, json } = await getJson(`${node.url}/get_model_info`);
    assert.equal(status, 200);
    assert.equal(json.model_path, node.client.model.modelPath);
    assert.equal(json.is_generation, true);
    assert.equal(json.served_model_name, node.client.model.servedModelName);
    assert.equal(json.vocab_size, node.client.model.vocabSize);
    assert.equal(json.kv_layout.page_size, 8);
  });

  test('GET /get_server_info never lists a credential: the etcd password is replaced by (set)', async () => {
    const etcd = { user: 'pd:s3cret-pass', cacert: null, cert: null, key: null };
    const guarded = await startNode({ port: 0, logLevel: 'warn', etcd });
    try {
      const { status, json } = await getJson(`${guarded.url}/get_server_info`);
      assert.equal(status, 200);
      assert.equal(json.etcd.user, 'pd:(set)');
      assert.ok(!JSON.stringify(json).includes('s3cret-pass'), 'the password appears in /get_server_info');
    } finally {
      await guarded.close();
    }
  });

  test('GET /get_server_info reports the options in effect, scheduler stats and version', async () => {
    const { status, json } = await getJson(`${node.url}/get_server_info`);
    assert.equal(status, 200);
    assert.equal(json.role, 'colocated');
    assert.equal(json.page_size, 8);
    assert.equal(json.max_batch_size, 5);
    assert.equal(json.port, node.port, 'the bound port, not 0');
    assert.equal(json.model_path, node.client.model.modelPath);
    assert.equal(json.version, PACKAGE_VERSION);
    const stats = await node.client.stats();
    assert.equal(json.scheduler_stats.total_pages, stats.totalPages);
    assert.equal(json.scheduler_stats.page_size, 8);
  });

  test('POST /flush_cache flushes an idle node, with or without a body', async () => {
    const { status, json } = await postJson(`${node.url}/flush_cache`, {});
    assert.equal(status, 200);
    assert.equal(json.success, true);
    for (const headers of [{}, { 'content-type': 'application/json' }] as Record<string, string>[]) {
      const res = await fetch(`${node.url}/flush_cache`, { method: 'POST', headers });
      assert.equal(res.status, 200, JSON.stringify(headers));
    }
  });
});
