/**
 * `--load-format gguf` on real processes: the built-in model written as a GGUF file (no tokenizer
 * beside it: --tokenizer-path names the model's directory) serves PD through the router with output
 * and log-probabilities identical to a colocated node reading the safetensors checkpoint, and the
 * nodes say they loaded the GGUF file. The same file as a GGUF-only hub repository in a local
 * Hugging Face cache (a snapshot holding a symlink to the blob, no config.json) serves the same output.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { writeGguf } from '../../src/model/gguf-writer.js';
import { repoFolderName } from '../../src/model/hf-cache.js';
import { loadModel } from '../../src/model/load-model.js';
import { getJson, postJson, stopAll, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from './cluster.js';

const PROMPTS = ['The quick brown fox', 'A prompt long enough to fill more than one page of the KV cache on both nodes. '.repeat(3)];

describe('PD with --load-format gguf', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'pd-gguf-'));
  const ggufPath = join(tmp, 'tiny.gguf');
  let cluster: Cluster;
  let colocated: NodeHandle;
  let fromHub: NodeHandle;
  const nodes: NodeProcess[] = [];

  before(async () => {
    cluster = await startCluster('tcp');
    const { config, weights } = loadModel(cluster.modelPath);
    writeGguf(ggufPath, config, weights, 'f32');
    const node = (role: 'prefill' | 'decode', format: string[]) =>
      cluster.addNode(role, ['--model-path', ggufPath, ...format, '--tokenizer-path', cluster.modelPath]);
    // The prefill node says gguf, the decode node leaves it to auto (a file is GGUF).
    const [prefill, decode] = await Promise.all([node('prefill', ['--load-format', 'gguf']), node('decode', [])]);
    nodes.push(prefill, decode);
    colocated = await startNode({ port: 0, logLevel: 'silent', modelPath: cluster.modelPath });
    fromHub = await startFromHubCache(join(tmp, 'hub'), ggufPath, cluster.modelPath);
    await cluster.waitForNodes(nodes);
  });
  after(async () => {
    await colocated?.close();
    await fromHub?.close();
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('the nodes loaded the GGUF file', async () => {
    for (const n of nodes) {
      const info = await getJson(`${n.url}/get_model_info`);
      assert.equal(info.model_path, ggufPath);
      assert.ok(n.logs.some((l) => l.includes('"msg":"node listening"') && l.includes(ggufPath)), n.logs.join('\n'));
    }
  });

  test('a GGUF-only hub id from the local Hugging Face cache serves what the safetensors do', async () => {
    const info = await getJson(`${fromHub.url}/get_model_info`);
    assert.match(info.model_path, /\/hub\/models--test-org--tiny-GGUF\/snapshots\/c{40}\/tiny-f32\.gguf$/, 'the snapshot\'s GGUF file is what was loaded');
    const models = await getJson(`${fromHub.url}/v1/models`);
    assert.equal(models.data[0].id, HUB_ID, 'the hub id names the served model');
    const body = { text: PROMPTS[1], sampling_params: { temperature: 0, max_new_tokens: 8, ignore_eos: true }, return_logprob: true, logprob_start_len: 0 };
    const [hub, local] = await Promise.all([postJson(`${fromHub.url}/generate`, body), postJson(`${colocated.url}/generate`, body)]);
    assert.equal(hub.status, 200, JSON.stringify(hub.body));
    assert.deepEqual(hub.body.output_ids, local.body.output_ids);
    assert.deepEqual(hub.body.meta_info.output_token_logprobs, local.body.meta_info.output_token_logprobs);
  });

  test('PD output and log-probabilities equal a colocated node reading the safetensors', async () => {
    for (const text of PROMPTS) {
      const body = { text, sampling_params: { temperature: 0, max_new_tokens: 8, ignore_eos: true }, return_logprob: true, logprob_start_len: 0 };
      const [pd, local] = await Promise.all([postJson(`${cluster.router.url}/generate`, body), postJson(`${colocated.url}/generate`, body)]);
      assert.equal(pd.status, 200, JSON.stringify(pd.body));
      assert.deepEqual(pd.body.output_ids, local.body.output_ids);
      assert.deepEqual(pd.body.meta_info.output_token_logprobs, local.body.meta_info.output_token_logprobs);
      assert.deepEqual(pd.body.meta_info.input_token_logprobs, local.body.meta_info.input_token_logprobs);
    }
  });
});

const HUB_ID = 'test-org/tiny-GGUF';

/**
 * A node started from HUB_ID in a Hugging Face cache at `cache` laid out as huggingface_hub leaves a
 * GGUF-only repo (refs/main -> snapshots/<hash>/ holding a symlink to the blob), the tokenizer from
 * `tokenizerDir`. HF_HUB_CACHE is set only while the node resolves its paths.
 */
async function startFromHubCache(cache: string, ggufPath: string, tokenizerDir: string): Promise<NodeHandle> {
  const hash = 'c'.repeat(40);
  const repo = join(cache, repoFolderName(HUB_ID));
  mkdirSync(join(repo, 'snapshots', hash), { recursive: true });
  mkdirSync(join(repo, 'refs'));
  writeFileSync(join(repo, 'refs', 'main'), hash);
  symlinkSync(ggufPath, join(repo, 'snapshots', hash, 'tiny-f32.gguf'));
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    return await startNode({ port: 0, logLevel: 'silent', modelPath: HUB_ID, tokenizerPath: tokenizerDir });
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved;
  }
}
