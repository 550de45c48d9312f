/** genModel and the model cache: reproducible files, atomic writes, and racing processes. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ensureDefaultModel, ensurePresetModel, MODEL_FORMAT_VERSION } from '../../src/model/default-model.js';
import { genModel } from '../../src/model/gen-model.js';
import { readSafetensorsFile } from '../../src/model/safetensors.js';

const tmp = mkdtempSync(join(tmpdir(), 'pd-gen-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const FILES = ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'];

const bytesOf = (dir: string): Buffer[] => FILES.map((f) => readFileSync(join(dir, f)));

describe('genModel', () => {
  const a = genModel({ outDir: join(tmp, 'a'), seed: 42 });
  const b = genModel({ outDir: join(tmp, 'b'), seed: 42 });
  const c = genModel({ outDir: join(tmp, 'c'), seed: 43 });

  it('writes a normal Hugging Face model directory, and nothing else next to it', () => {
    assert.deepEqual(readdirSync(a).sort(), FILES);
    assert.deepEqual(readdirSync(tmp).sort(), ['a', 'b', 'c'], 'no temp dirs left behind');
    const config = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    assert.equal(config.torch_dtype, 'float32');
    assert.equal(config.hidden_size, 64);
    const tokenizerConfig = JSON.parse(readFileSync(join(a, 'tokenizer_config.json'), 'utf8'));
    assert.equal(tokenizerConfig.bos_token, '<|endoftext|>');
    assert.match(tokenizerConfig.chat_template, /<\|im_start\|>/);
  });

  it('same seed gives byte-identical files', () => {
    bytesOf(a).forEach((bytes, i) => assert.ok(bytes.equals(bytesOf(b)[i]), `${FILES[i]} differs`));
  });

  it('a different seed gives different weights and the same everything else', () => {
    const [A, C] = [bytesOf(a), bytesOf(c)];
    FILES.forEach((f, i) => assert.equal(A[i].equals(C[i]), f !== 'model.safetensors', f));
    const wa = readSafetensorsFile(join(a, 'model.safetensors'));
    const wc = readSafetensorsFile(join(c, 'model.safetensors'));
    for (const [name, t] of wa) {
      if (t.shape.length === 2) assert.notDeepEqual(t.data, wc.get(name)!.data, name);
    }
  });

  it('stores the requested dtype', () => {
    const dir = genModel({ outDir: join(tmp, 'bf16'), dtype: 'bfloat16', seed: 42 });
    assert.equal(statSync(join(dir, 'model.safetensors')).size < statSync(join(a, 'model.safetensors')).size * 0.55, true);
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
    assert.equal(readSafetensorsFile(join(dir, 'model.safetensors')).get('model.norm.weight')!.dtype, 'BF16');
    rmSync(dir, { recursive: true });
  });

  it('never overwrites an existing model, and rejects bad options', () => {
    assert.throws(() => genModel({ outDir: a }), /already exists and is not empty/);
    assert.throws(() => genModel({ outDir: join(tmp, 'x'), preset: 'huge' as 'tiny' }), /unknown model preset "huge" \(known: tiny, tiny-8kv, small\)/);
    assert.throws(() => genModel({ outDir: join(tmp, 'x'), seed: -1 }), /seed must be an integer/);
    assert.throws(() => genModel({ outDir: join(tmp, 'x'), dtype: 'int8' as 'float32' }), /dtype must be float32, float16 or bfloat16/);
    assert.deepEqual(readdirSync(tmp).sort(), ['a', 'b', 'c']);
  });
});

describe('ensureDefaultModel', () => {
  it('generates the default model once into the cache and reuses it', async () => {
    const cache = join(tmp, 'cache-reuse');
    process.env.PD_NODE_CACHE_DIR = cache;
    try {
      const dir = await ensureDefaultModel();
      assert.equal(dir, join(cache, 'models', `tiny-v${MODEL_FORMAT_VERSION}`));
      const marker = join(dir, 'marker');
      writeFileSync(marker, 'x');
      assert.equal(await ensurePresetModel('tiny'), dir);
      assert.deepEqual(readdirSync(dir).sort(), [...FILES, 'marker'].sort(), 'not regenerated');
    } finally {
      delete process.env.PD_NODE_CACHE_DIR;
    }
  });

  it('is safe when processes race: all get the same complete model', async () => {
    const cache = join(tmp, 'cache-race');
    mkdirSync(cache);
    const moduleUrl = new URL('../../src/model/default-model.js', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then(async (m) => console.log(await m.ensureDefaultModel()))`;
    const run = promisify(execFile);
    const env = { ...process.env, PD_NODE_CACHE_DIR: cache };
    const results = await Promise.all([1, 2, 3].map(() => run(process.execPath, ['--input-type=module', '-e', script], { env })));
    const dirs = new Set(results.map((r) => r.stdout.trim()));
    assert.equal(dirs.size, 1);
    const [dir] = dirs;
    assert.deepEqual(readdirSync(dir).sort(), FILES);
    assert.deepEqual(readdirSync(join(cache, 'models')), [`tiny-v${MODEL_FORMAT_VERSION}`], 'no temp dirs left behind');
  });
});
