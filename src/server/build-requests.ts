/**
 * Scheduler requests for a set of prompts that share sampling and logprob settings; shared by
 * /generate and the OpenAI routes so the two never drift apart.
 */
import type { GenerateRequest, PdBootstrap, PromptInput } from '../../actors/scheduler/protocol.js';
import type { SamplingParams } from '../sampling/params.js';

export interface LogprobRequest {
  returnLogprob: boolean;
  logprobStartLen: number;
  topLogprobsNum: number;
  returnTextInLogprobs: boolean;
}

export const NO_LOGPROBS: Readonly<LogprobRequest> = Object.freeze({ returnLogprob: false, logprobStartLen: -1, topLogprobsNum: 0, returnTextInLogprobs: false });

export function buildRequests(
  inputs: readonly PromptInput[],
  rids: readonly string[],
  sampling: SamplingParams,
  logprobs: LogprobRequest,
  pd?: readonly PdBootstrap[],
): GenerateRequest[] {
  return inputs.map((input, i) => ({ rid: rids[i], input, sampling, ...logprobs, pd: pd?.[i] }));
}
