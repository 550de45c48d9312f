/**
 * Hub ids from the local Hugging Face cache: which directory is the cache, and how a hub id and a
 * revision find their snapshot (refs/<revision> -> snapshots/<hash>/), offline.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hfHubCache, isHubId, MODEL_SNAPSHOT, repoFolderName, resolveModelDir, TOKENIZER_SNAPSHOT } from '../../src/model/hf-cache.js';

const HOME = '/home/u';
const MAIN_HASH = 'a'.repeat(40);
const TAG_HASH = 'b'.repeat(40);

describe('Hugging Face cache', () => {
  test('the cache directory follows huggingface_hub: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME, ~/.cache', () => {
    assert.deepEqual(hfHubCache({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }, HOME).dir, '/c');
    assert.deepEqual(hfHubCache({ HUGGINGFACE_HUB_CACHE: '/legacy', HF_HOME: '/h' }, HOME).dir, '/legacy');
    assert.deepEqual(hfHubCache({ HF_HOME: '~/hf', XDG_CACHE_HOME: '/x' }, HOME).dir, '/home/u/hf/hub');
    assert.deepEqual(hfHubCache({ XDG_CACHE_HOME: '/x' }, HOME).dir, '/x/huggingface/hub');
    assert.deepEqual(hfHubCache({}, HOME).dir, '/home/u/.cache/huggingface/hub');
  });

  test('hub ids and their cache folders', () => {
    for (const id of ['meta-llama/Llama-3.1-8B-Instruct', 'gpt2', 'deepseek-ai/DeepSeek-V3', 'Qwen/Qwen2.5-7B-Instruct']) assert.ok(isHubId(id), id);
    for (const path of ['/models/llama', './m', 'a/b/c', 'a--b/c', 'a/../b', '', 'org/na me']) assert.ok(!isHubId(path), path);
    assert.equal(repoFolderName('meta-llama/Llama-3.1-8B-Instruct'), 'models--meta-llama--Llama-3.1-8B-Instruct');
  });

  describe('resolveModelDir', () => {
    let cache: string;
    const env = (): Record<string, string> => ({ HF_HUB_CACHE: cache });
    before(() => {
      cache = mkdtempSync(join(tmpdir(), 'pd-node-hf-cache-'));
      const repo = join(cache, 'models--org--model');
      for (const hash of [MAIN_HASH, TAG_HASH]) {
        mkdirSync(join(repo, 'snapshots', hash), { recursive: true });
        writeFileSync(join(repo, 'snapshots', hash, 'config.json'), '{}');
      }
      mkdirSync(join(repo, 'refs'));
      writeFileSync(join(repo, 'refs', 'main'), `${MAIN_HASH}\n`);
      writeFileSync(join(repo, 'refs', 'v1'), TAG_HASH);
      // A download that stopped before config.json.
      mkdirSync(join(cache, 'models--org--partial', 'snapshots', MAIN_HASH), { recursive: true });
      mkdirSync(join(cache, 'models--org--partial', 'refs'));
      writeFileSync(join(cache, 'models--org--partial', 'refs', 'main'), MAIN_HASH);
      // A GGUF-only repo: no config.json, no tokenizer.
      mkdirSync(join(cache, 'models--org--model-GGUF', 'snapshots', MAIN_HASH), { recursive: true });
      mkdirSync(join(cache, 'models--org--model-GGUF', 'refs'));
      writeFileSync(join(cache, 'models--org--model-GGUF', 'refs', 'main'), MAIN_HASH);
      writeFileSync(join(cache, 'models--org--model-GGUF', 'snapshots', MAIN_HASH, 'model-bf16.gguf'), 'GGUF');
    });
    after(() => rmSync(cache, { recursive: true, force: true }));

    test('an existing directory is itself; a hub id is its snapshot at main, a branch or tag, or a commit', () => {
      assert.equal(resolveModelDir(cache, null, '--model-path', MODEL_SNAPSHOT, env(), HOME), cache);
      assert.equal(resolveModelDir('org/model', null, '--model-path', MODEL_SNAPSHOT, env(), HOME), join(cache, 'models--org--model', 'snapshots', MAIN_HASH));
      assert.equal(resolveModelDir('org/model', 'v1', '--model-path', MODEL_SNAPSHOT, env(), HOME), join(cache, 'models--org--model', 'snapshots', TAG_HASH));
      assert.equal(resolveModelDir('org/model', TAG_HASH, '--model-path', MODEL_SNAPSHOT, env(), HOME), join(cache, 'models--org--model', 'snapshots', TAG_HASH));
    });

    test('a GGUF-only repo is a model (its .gguf file) but not a tokenizer', () => {
      const snapshot = join(cache, 'models--org--model-GGUF', 'snapshots', MAIN_HASH);
      assert.equal(resolveModelDir('org/model-GGUF', null, '--model-path', MODEL_SNAPSHOT, env(), HOME), snapshot);
      assert.throws(() => resolveModelDir('org/model-GGUF', null, '--tokenizer-path', TOKENIZER_SNAPSHOT, env(), HOME), /the snapshot .*snapshots\/a{40} has no tokenizer\.json/);
    });

    test('a miss says where it looked and how to get the model', () => {
      assert.throws(() => resolveModelDir('org/other', null, '--model-path', MODEL_SNAPSHOT, env(), HOME), (err: Error) => {
        assert.match(err.message, /^--model-path org\/other: not a local directory, and the Hugging Face cache has no copy of it at revision main: no .*models--org--other\/refs\/main \(the cache is .*, from \$HF_HUB_CACHE\)/);
        assert.match(err.message, /`huggingface-cli download org\/other`/);
        return true;
      });
      assert.throws(() => resolveModelDir('org/model', 'v2', '--tokenizer-path', TOKENIZER_SNAPSHOT, env(), HOME), /^Error: --tokenizer-path org\/model: .*at revision v2: no .*refs\/v2.*`huggingface-cli download org\/model --revision v2`/);
      assert.throws(() => resolveModelDir('org/partial', null, '--model-path', MODEL_SNAPSHOT, env(), HOME), /the snapshot .*snapshots\/a{40} has no config\.json or a \.gguf file \(an interrupted download\?\)/);
      assert.throws(() => resolveModelDir('/no/such/dir', null, '--model-path', MODEL_SNAPSHOT, env(), HOME), /^Error: --model-path \/no\/such\/dir: no such directory \(and not a Hugging Face hub id like org\/name\)$/);
    });
  });
});
