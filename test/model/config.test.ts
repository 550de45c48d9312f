/** config.json parsing: real configs, defaults, and errors that name the offending field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { llamaConfigToJson, parseLlamaConfig } from '../../src/model/config.js';
import { presetConfig } from '../../src/model/presets.js';

/** A SmolLM2-135M-like config.json as transformers writes it. */
const smolLm2 = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
  use_cache: true,
  vocab_size: 49152,
};

describe('parseLlamaConfig', () => {
  it('maps a real Llama config.json', () => {
    assert.deepEqual(parseLlamaConfig(smolLm2), {
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      numLayers: 30,
      numHeads: 9,
      numKvHeads: 3,
      headDim: 64,
      maxPositionEmbeddings: 8192,
      rmsNormEps: 1e-5,
      ropeTheta: 100000,
      tieWordEmbeddings: true,
      bosTokenId: 0,
      eosTokenIds: [0],
      torchDtype: 'bfloat16',
    });
  });

  it('applies defaults: head_dim, num_key_value_heads, tie_word_embeddings, eos list', () => {
    const minimal = {
      architectures: ['MistralForCausalLM'],
      vocab_size: 100,
      hidden_size: 48,
      intermediate_size: 96,
      num_hidden_layers: 1,
      num_attention_heads: 6,
      eos_token_id: [1, 2],
      sliding_window: null,
    };
    const cfg = parseLlamaConfig(minimal);
    assert.equal(cfg.headDim, 8);
    assert.equal(cfg.numKvHeads, 6);
    assert.equal(cfg.tieWordEmbeddings, false);
    assert.deepEqual(cfg.eosTokenIds, [1, 2]);
    assert.equal(cfg.bosTokenId, null);
    assert.equal(cfg.maxPositionEmbeddings, 131072);
    assert.equal(cfg.ropeTheta, 10000);
    assert.equal(cfg.torchDtype, 'float32');
  });

  it('keeps an explicit head_dim that differs from hidden/heads', () => {
    assert.equal(parseLlamaConfig({ ...smolLm2, head_dim: 128 }).headDim, 128);
  });

  it('reads transformers v5 rope_parameters and dtype', () => {
    const { rope_theta: _theta, torch_dtype: _dtype, ...rest } = smolLm2;
    const cfg = parseLlamaConfig({ ...rest, dtype: 'float16', rope_parameters: { rope_type: 'default', rope_theta: 500000 } });
    assert.equal(cfg.ropeTheta, 500000);
    assert.equal(cfg.torchDtype, 'float16');
  });

  const errors: Array<[string, Record<string, unknown>, RegExp]> = [
    ['zero heads', { num_attention_heads: 0 }, /config\.json: num_attention_heads must be a positive integer \(got 0\)$/],
    ['fractional hidden size', { hidden_size: 57.6 }, /config\.json: hidden_size must be a positive integer/],
    ['missing vocab size', { vocab_size: undefined }, /config\.json: vocab_size must be a positive integer/],
    ['string layer count', { num_hidden_layers: '30' }, /config\.json: num_hidden_layers must be a positive integer \(got "30"\)/],
    ['KV heads not dividing heads', { num_key_value_heads: 2 }, /num_key_value_heads \(2\) must divide num_attention_heads \(9\)/],
    ['negative eps', { rms_norm_eps: -1 }, /rms_norm_eps must be a positive number/],
    ['eos out of vocab', { eos_token_id: [0, 49152] }, /eos_token_id must be a token id in \[0, vocab_size=49152\) \(got 49152\)/],
    ['non-boolean tie', { tie_word_embeddings: 'yes' }, /tie_word_embeddings must be a boolean/],
    ['head_dim not derivable', { hidden_size: 580, head_dim: undefined }, /head_dim is missing and hidden_size \(580\) is not a multiple of num_attention_heads \(9\)/],
    ['attention bias', { attention_bias: true }, /attention_bias=true is unsupported \(attention projections with biases\)/],
    ['MLP bias', { mlp_bias: true }, /mlp_bias=true is unsupported/],
    ['rope scaling', { rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling .*linear.* is unsupported \(only plain RoPE, rope_scaling null\)/],
    ['llama3 rope scaling', { rope_scaling: { rope_type: 'llama3', factor: 8 } }, /rope_scaling .* is unsupported/],
    ['scaled rope_parameters', { rope_parameters: { rope_type: 'yarn', rope_theta: 1e6 } }, /rope_parameters\.rope_type "yarn" is unsupported/],
    ['unknown architecture', { architectures: ['Qwen2MoeForCausalLM'] }, /unsupported architecture Qwen2MoeForCausalLM \(supported: LlamaForCausalLM, MistralForCausalLM\)/],
    ['activation', { hidden_act: 'gelu' }, /hidden_act "gelu" is unsupported \(only "silu"\)/],
    ['short sliding window', { sliding_window: 4096 }, /sliding_window 4096 < max_position_embeddings 8192 is unsupported/],
    ['dtype', { torch_dtype: 'int8' }, /torch_dtype "int8" is unsupported/],
  ];
  for (const [what, change, message] of errors) {
    it(`rejects ${what}, naming the field`, () => assert.throws(() => parseLlamaConfig({ ...smolLm2, ...change }), message));
  }

  it('rejects a non-object', () => assert.throws(() => parseLlamaConfig([1]), /config\.json: must be a JSON object/));
});

describe('llamaConfigToJson', () => {
  it('writes HF key names that parse back to the same config', () => {
    for (const preset of ['tiny', 'small']) {
      const cfg = presetConfig(preset);
      const json = llamaConfigToJson(cfg);
      assert.equal(json.num_key_value_heads, cfg.numKvHeads);
      assert.deepEqual(json.architectures, ['LlamaForCausalLM']);
      assert.deepEqual(parseLlamaConfig(JSON.parse(JSON.stringify(json))), cfg);
    }
  });

  it('writes a single EOS id as a number, several as a list', () => {
    const cfg = presetConfig('tiny');
    assert.deepEqual(llamaConfigToJson(cfg).eos_token_id, [0, 2]);
    assert.equal(llamaConfigToJson({ ...cfg, eosTokenIds: [2] }).eos_token_id, 2);
  });
});
