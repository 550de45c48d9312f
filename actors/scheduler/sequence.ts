import type { TokenLogprob } from '../../src/generation/output.js';
import type { GenerateRequest } from './protocol.js';
import type { SamplingParams } from '../../src/sampling/params.js';
import { Prng, hashString } from '../../src/random/prng.js';
import { StopStringMatcher } from '../../src/sampling/stop-strings.js';
import type { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';

/**
 * One request inside the scheduler. Its tokens are prompt ++ output; `computed` counts the leading
 * positions whose K/V are in the pool. Prefill, chunked prefill, decode and recompute after a
 * retraction are all the same operation: feed positions [computed, length) in chunks, and sample
 * when the last one has been fed.
 */
export class Sequence {
  readonly tokens: number[];
  readonly promptLen: number;
  readonly sampling: SamplingParams;
  readonly maxNewTokens: number;
  readonly rng: Prng;
  readonly stopMatcher: StopStringMatcher;
  computed = 0;
  /** Input logprobs are collected on the first prefill only (a recompute would repeat them). */
  inputLogprobsPending: boolean;
  readonly inputLogprobs: TokenLogprob[] = [];
  readonly inputTopLogprobs: (TokenLogprob[] | null)[] = [];
  /** The input logprobs went out with the first output event. */
  inputLogprobsSent = false;

  constructor(
    readonly req: GenerateRequest,
    promptIds: number[],
    /** Admission order; lower is older and wins pages when the pool runs short. */
    readonly arrival: number,
    contextLength: number,
    readonly detokenizer: IncrementalDetokenizer,
    /** `--random-seed`: without a seed of its own a request draws from (request id, node seed); null: the request id alone. */
    nodeSeed: number | null = null,
  ) {
    this.tokens = promptIds;
    this.promptLen = promptIds.length;
    this.sampling = req.sampling;
    this.maxNewTokens = Math.min(req.sampling.maxNewTokens, contextLength - promptIds.length);
    this.rng = req.sampling.seed !== null ? new Prng(req.sampling.seed) : new Prng(hashString(req.rid), nodeSeed === null ? '' : `random-seed ${nodeSeed}`);
    this.stopMatcher = new StopStringMatcher(req.sampling.stop);
    this.inputLogprobsPending = req.returnLogprob && req.logprobStartLen >= 0;
  }

  get rid(): string {
    return this.req.rid;
  }

  get outputLen(): number {
    return this.tokens.length - this.promptLen;
  }

  /** Positions still to feed before the next token can be sampled. */
  get pending(): number {
    return this.tokens.length - this.computed;
  }

  /** KV capacity (tokens) this sequence could ever need: every prompt and output position. */
  get maxTokens(): number {
    return this.promptLen + this.maxNewTokens;
  }
}
