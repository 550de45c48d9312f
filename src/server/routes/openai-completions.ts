/**
 * OpenAI POST /v1/completions. `prompt` may be a list (one choice per prompt, at most
 * `maxBatchSize`); `max_tokens` defaults to 16 as in OpenAI's API; `logprobs: k` returns the chosen
 * token's logprob and k alternatives per position; `rid` names the requests as on /generate.
 */
import type { FastifyInstance } from 'fastify';
import { DEFAULT_SAMPLING } from '../../sampling/params.js';
import { buildRequests } from '../build-requests.js';
import { completionFormat } from '../formats/openai-completion.js';
import { completionPrompts } from '../prompt-input.js';
import { requestIds } from '../request-ids.js';
import { COMPLETION_COMPAT } from '../schemas/compat-fields.js';
import { COMPLETION_BODY_SCHEMA, type CompletionBody } from '../schemas/openai.js';
import { pdBootstraps } from '../pd-fields.js';
import { serveGeneration } from '../serve-generation.js';
import type { ServerContext } from '../server-context.js';
import { checkOpenAiRequest, openAiSampling, responseInfo } from './openai-request.js';

const COMPLETION_DEFAULTS = Object.freeze({ ...DEFAULT_SAMPLING, maxNewTokens: 16 });

export function registerCompletionsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: COMPLETION_BODY_SCHEMA } }, async (request, reply) => {
    const body = request.body;
    checkOpenAiRequest(body, ctx, COMPLETION_COMPAT);
    const vocabSize = ctx.client.model.vocabSize;
    const prompts = completionPrompts(body.prompt, { vocabSize, maxBatchSize: ctx.options.maxBatchSize });
    const sampling = openAiSampling(body, body.max_tokens, vocabSize, COMPLETION_DEFAULTS);
    const k = body.logprobs ?? null;
    const logprobs = { returnLogprob: k !== null, logprobStartLen: -1, topLogprobsNum: k ?? 0, returnTextInLogprobs: true };
    const rids = requestIds(body.rid ?? undefined, prompts.inputs.length, prompts.batch);
    const requests = buildRequests(prompts.inputs, rids, sampling, logprobs, pdBootstraps(body, prompts.inputs.length, ctx.options));
    return serveGeneration(ctx.generation, request, reply, requests, completionFormat(responseInfo(`cmpl-${rids[0]}`, body, ctx)));
  });
}
