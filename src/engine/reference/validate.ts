/**
 * Checks on the model the reference engine is given, with errors that say what is wrong: dimensions
 * the kernels support and weight sizes, at construction. (Forward batches: ../validate-items.ts.)
 */
import type { LlamaConfig, ModelWeights } from '../../model/types.js';

export function validateModel(c: LlamaConfig, w: ModelWeights): void {
  const fail = (why: string): never => {
    throw new Error(`reference engine: unsupported model: ${why}`);
  };
  for (const [name, v] of [['hidden_size', c.hiddenSize], ['intermediate_size', c.intermediateSize], ['head_dim', c.headDim]] as const) {
    if (!(v > 0 && v % 4 === 0)) fail(`${name} ${v} must be a positive multiple of 4 (f32x4 kernels)`);
  }
  if (!(c.numKvHeads > 0 && c.numHeads % c.numKvHeads === 0)) fail(`${c.numHeads} heads are not a multiple of ${c.numKvHeads} KV heads`);
  if (w.layers.length !== c.numLayers) fail(`${w.layers.length} layer weights for ${c.numLayers} layers`);
  const [h, q, kv, inter, vocab] = [c.hiddenSize, c.numHeads * c.headDim, c.numKvHeads * c.headDim, c.intermediateSize, c.vocabSize];
  const expect = (name: string, a: Float32Array, rows: number, cols: number): void => {
    if (a.length !== rows * cols) fail(`${name} has ${a.length} values, expected ${rows} x ${cols}`);
  };
  expect('embed', w.embed, vocab, h);
  expect('lm_head', w.lmHead, vocab, h);
  expect('final norm', w.finalNorm, 1, h);
  w.layers.forEach((l, i) => {
    expect(`layer ${i} input norm`, l.inputNorm, 1, h);
    expect(`layer ${i} q`, l.q, q, h);
    expect(`layer ${i} k`, l.k, kv, h);
    expect(`layer ${i} v`, l.v, kv, h);
    expect(`layer ${i} o`, l.o, h, q);
    expect(`layer ${i} post norm`, l.postNorm, 1, h);
    expect(`layer ${i} gate`, l.gate, inter, h);
    expect(`layer ${i} up`, l.up, inter, h);
    expect(`layer ${i} down`, l.down, h, inter);
  });
}
