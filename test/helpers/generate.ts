/** Test helpers: run a request through a node's scheduler client and collect its events. */
import { DEFAULT_SAMPLING, type SamplingParams } from '../../src/sampling/params.js';
import type { SchedulerClient } from '../../actors/scheduler/scheduler-client.js';
import type { FinishMeta, TokenLogprob } from '../../src/generation/output.js';
import type { PromptInput } from '../../actors/scheduler/protocol.js';

export interface Collected {
  text: string;
  ids: number[];
  logprobs: TokenLogprob[];
  meta: FinishMeta;
}

let counter = 0;

export interface GenerateOptions {
  sampling?: Partial<SamplingParams>;
  returnLogprob?: boolean;
  logprobStartLen?: number;
  rid?: string;
  /** Called with the number of tokens received so far, after each tokens event. */
  onTokens?: (count: number) => void;
}

export function generate(client: SchedulerClient, input: PromptInput | string, opts: GenerateOptions = {}): Promise<Collected> {
  const rid = opts.rid ?? `test-${process.pid}-${++counter}`;
  const prompt: PromptInput = typeof input === 'string' ? { kind: 'text', text: input } : input;
  return new Promise((resolve, reject) => {
    let text = '';
    const ids: number[] = [];
    const logprobs: TokenLogprob[] = [];
    client.generate(
      {
        rid,
        input: prompt,
        sampling: { ...DEFAULT_SAMPLING, temperature: 0, ...opts.sampling },
        returnLogprob: opts.returnLogprob ?? false,
        logprobStartLen: opts.logprobStartLen ?? -1,
        topLogprobsNum: 0,
        returnTextInLogprobs: false,
      },
      (e) => {
        if (e.type === 'tokens') {
          text += e.text;
          ids.push(...e.ids);
          if (e.logprobs) logprobs.push(...e.logprobs);
          opts.onTokens?.(ids.length);
        } else if (e.type === 'finished') resolve({ text, ids, logprobs, meta: e.meta });
        else if (e.type === 'error') reject(Object.assign(new Error(e.message), { status: e.status }));
      },
    );
  });
}
