/** loadModel / loadModelWeights: shapes against the config, clear errors, untied and sharded checkpoints. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { llamaConfigToJson } from '../../src/model/config.js';
import { genModel } from '../../src/model/gen-model.js';
import { loadModel } from '../../src/model/load-model.js';
import { writeSafetensors } from '../../src/model/safetensors.js';
import { loadModelWeights, modelWeightsToTensors } from '../../src/model/weights.js';

const tmp = mkdtempSync(join(tmpdir(), 'pd-load-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const tinyDir = genModel({ outDir: join(tmp, 'tiny'), seed: 7 });

/** A copy of the tiny model to break. */
function copyOfTiny(name: string): string {
  const dir = join(tmp, name);
  cpSync(tinyDir, dir, { recursive: true });
  return dir;
}

describe('loadModel', () => {
  it('loads a generated tiny model with shapes matching its config', () => {
    const { config, weights, tokenizer } = loadModel(tinyDir);
    const { vocabSize: V, hiddenSize: H, intermediateSize: I, numHeads, numKvHeads, headDim } = config;
    assert.equal(config.numLayers, 2);
    assert.equal(weights.layers.length, config.numLayers);
    assert.equal(weights.embed.length, V * H);
    assert.equal(config.tieWordEmbeddings, false, 'the tiny preset has its own lm_head');
    assert.equal(weights.lmHead.length, V * H);
    assert.notEqual(weights.lmHead, weights.embed);
    assert.equal(weights.finalNorm.length, H);
    for (const layer of weights.layers) {
      assert.equal(layer.inputNorm.length, H);
      assert.equal(layer.postNorm.length, H);
      assert.equal(layer.q.length, numHeads * headDim * H);
      assert.equal(layer.k.length, numKvHeads * headDim * H);
      assert.equal(layer.v.length, numKvHeads * headDim * H);
      assert.equal(layer.o.length, H * numHeads * headDim);
      assert.equal(layer.gate.length, I * H);
      assert.equal(layer.up.length, I * H);
      assert.equal(layer.down.length, H * I);
    }
    assert.equal(tokenizer.vocabSize, V);
  });

  it('generates weights at the intended scale: norms 1, matrices ~ N(0, 1/fan_in)', () => {
    const { config, weights } = loadModel(tinyDir);
    assert.ok(weights.layers[0].inputNorm.every((x) => x === 1));
    const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    assert.ok(Math.abs(std(weights.layers[1].gate) * Math.sqrt(config.hiddenSize) - 1) < 0.05);
    assert.ok(Math.abs(std(weights.layers[1].down) * Math.sqrt(config.intermediateSize) - 1) < 0.05);
  });

  it('names the missing piece of a model directory', () => {
    assert.throws(() => loadModel(join(tmp, 'nope')), /^Error: --model-path .*nope: no such file or directory$/);
    const noConfig = copyOfTiny('no-config');
    unlinkSync(join(noConfig, 'config.json'));
    assert.throws(() => loadModel(noConfig), new RegExp(`--model-path ${noConfig}: no config\\.json`));
    const noWeights = copyOfTiny('no-weights');
    unlinkSync(join(noWeights, 'model.safetensors'));
    assert.throws(() => loadModel(noWeights), /: no model\.safetensors or model\.safetensors\.index\.json/);
    const noTokenizer = copyOfTiny('no-tokenizer');
    unlinkSync(join(noTokenizer, 'tokenizer.json'));
    assert.throws(() => loadModel(noTokenizer), /: no tokenizer\.json/);
  });

  it('reports config.json errors with the model path', () => {
    const dir = copyOfTiny('bad-config');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...llamaConfigToJson(loadModel(tinyDir).config), num_attention_heads: -4 }));
    assert.throws(() => loadModel(dir), /--model-path .*: config\.json: num_attention_heads must be a positive integer/);
  });

  it('rejects weights whose shape disagrees with config.json, naming tensor and shapes', () => {
    const dir = copyOfTiny('wrong-shape');
    const { config } = loadModel(tinyDir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigToJson({ ...config, intermediateSize: 128 })));
    assert.throws(() => loadModel(dir), /tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[172, 64\], config\.json implies \[128, 64\]/);
  });

  it('requires lm_head.weight when embeddings are not tied', () => {
    const dir = copyOfTiny('no-lm-head');
    const { config, weights } = loadModel(tinyDir);
    const tied = { ...config, tieWordEmbeddings: true };
    writeSafetensors(join(dir, 'model.safetensors'), modelWeightsToTensors(tied, { ...weights, lmHead: weights.embed }), 'float32');
    const loaded = loadModelWeights(dir, tied);
    assert.equal(loaded.lmHead, loaded.embed, 'tied embeddings share one array');
    assert.throws(() => loadModelWeights(dir, config), /tensor lm_head\.weight is missing \(expected shape \[512, 64\]\)/);
  });

  it('rejects a tokenizer with more ids than the model has embeddings', () => {
    const dir = copyOfTiny('small-vocab');
    const { config } = loadModel(tinyDir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(llamaConfigToJson({ ...config, vocabSize: 500, eosTokenIds: [0] })));
    assert.throws(() => loadModel(dir), /tokenizer\.json has 512 token ids but config\.json vocab_size is 500/);
  });

  it('loads untied, sharded weights written from ModelWeights', () => {
    const { config, weights } = loadModel(tinyDir);
    const untied = { ...config, tieWordEmbeddings: false };
    const lmHead = weights.embed.map((x) => -x);
    const tensors = modelWeightsToTensors(untied, { ...weights, lmHead });
    assert.equal(tensors.length, 1 + 9 * config.numLayers + 2);
    const dir = mkdtempSync(join(tmp, 'sharded-'));
    const half = Math.floor(tensors.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    writeSafetensors(join(dir, files[0]), tensors.slice(0, half), 'float32');
    writeSafetensors(join(dir, files[1]), tensors.slice(half), 'float32');
    const weightMap = Object.fromEntries(tensors.map((t, i) => [t.name, files[i < half ? 0 : 1]]));
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const loaded = loadModelWeights(dir, untied);
    assert.deepEqual(loaded.lmHead, lmHead);
    assert.notEqual(loaded.lmHead, loaded.embed);
    assert.deepEqual(loaded.layers[1].down, weights.layers[1].down);
  });
});
