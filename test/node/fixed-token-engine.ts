/**
 * An engine defined outside pd-node, as an embedding application would write one: a module whose
 * default export is an EngineDescriptor, loaded by the scheduler worker from its URL. It does no
 * math: every step's logits put all weight on the token `tokenId` (its one setting, `--token-id`),
 * and each fed position's token id goes into its K slot (one layer, one head of one float: K and V), so the
 * output is known in advance: `tokenId` repeated.
 */
import type { Engine, ForwardItem, ForwardOutput } from '../../src/engine/engine.js';
import type { EngineDescriptor } from '../../src/engine/descriptor.js';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import type { KvPool } from '../../src/kv/pool.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';

export const FIXED_TOKEN_ENGINE = 'fixed-token';
/** A context long enough for any test prompt. */
const CONTEXT = 1024;
const POOL_TOKENS = 4096;

class FixedTokenEngine implements Engine {
  readonly name = FIXED_TOKEN_ENGINE;
  readonly layout: KvLayout;
  private readonly kv: Float32Array;
  private readonly row: Float32Array;

  constructor(pool: KvPool, readonly vocabSize: number, tokenId: number) {
    this.layout = pool.layout;
    this.kv = new Float32Array(pool.buffer);
    this.row = new Float32Array(vocabSize).fill(-1e9);
    this.row[tokenId] = 0;
  }

  forward(items: readonly ForwardItem[]): ForwardOutput {
    const size = this.layout.pageSize;
    return items.map((item) => {
      item.tokens.forEach((token, i) => {
        const pos = item.startPos + i;
        this.kv[(item.pageTable[Math.floor(pos / size)] * size + (pos % size)) * this.layout.entriesPerToken] = token;
      });
      if (item.logits === 'none') return new Float32Array(0);
      if (item.logits === 'last') return this.row;
      const all = new Float32Array(item.tokens.length * this.vocabSize);
      for (let i = 0; i < item.tokens.length; i++) all.set(this.row, i * this.vocabSize);
      return all;
    });
  }
}

type FixedTokenConfig = { readonly tokenId: number };

const descriptor: EngineDescriptor<FixedTokenConfig> = {
  name: FIXED_TOKEN_ENGINE,
  summary: 'emits one token over and over',
  flags: [
    {
      name: 'token-id',
      field: 'tokenId',
      describe: 'the token it emits',
      defaultText: 'none (required)',
      parse: (f, raw) => {
        if (!/^\d+$/.test(raw)) throw new Error(`${f} must be a token id (got "${raw}")`);
        return Number(raw);
      },
    },
  ],
  poolDefault: `${FIXED_TOKEN_ENGINE}: ${POOL_TOKENS} tokens`,
  config(given) {
    if (typeof given.tokenId !== 'number') throw new Error('the fixed-token engine needs tokenId');
    return { tokenId: given.tokenId };
  },
  load(config, ctx) {
    const tokenizer = HfTokenizer.fromDir(ctx.modelDir);
    if (config.tokenId >= tokenizer.vocabSize) throw new Error(`tokenId ${config.tokenId} is not below the vocabulary (${tokenizer.vocabSize})`);
    return {
      layout: gqaLayout(1, 1, 1, 'float32', ctx.pageSize),
      contextLength: CONTEXT,
      tokenizer,
      identity: { modelPath: FIXED_TOKEN_ENGINE, servedModelName: FIXED_TOKEN_ENGINE, numLayers: 1, hiddenSize: 1, fingerprint: `${FIXED_TOKEN_ENGINE}:${config.tokenId}` },
      defaultPoolTokens: POOL_TOKENS,
      weightBytes: 0,
      create: (pool) => ({ engine: new FixedTokenEngine(pool, tokenizer.vocabSize, config.tokenId), logFields: { tokenId: config.tokenId } }),
    };
  },
};

export default descriptor;
