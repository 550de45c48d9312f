/**
 * SGLang's POST /generate: `text` or `input_ids` (one prompt or a list), `sampling_params`, `stream`,
 * logprob options and an optional client `rid`. Input logprob settings are passed on only with
 * `return_logprob`, so they never cost anything otherwise. Null is "not given", as in SGLang.
 */
import type { FastifyInstance } from 'fastify';
import { buildRequests, NO_LOGPROBS } from '../build-requests.js';
import { HttpError } from '../errors.js';
import { sglangFormat } from '../formats/sglang.js';
import { generatePrompts } from '../prompt-input.js';
import { requestIds } from '../request-ids.js';
import { toSamplingParams } from '../sampling.js';
import { checkCompatFields, GENERATE_COMPAT, SAMPLING_COMPAT } from '../schemas/compat-fields.js';
import { GENERATE_BODY_SCHEMA, type GenerateBody } from '../schemas/generate.js';
import { pdBootstraps } from '../pd-fields.js';
import { serveGeneration } from '../serve-generation.js';
import type { ServerContext } from '../server-context.js';

export function registerGenerateRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: GenerateBody }>('/generate', { schema: { body: GENERATE_BODY_SCHEMA } }, async (request, reply) => {
    const body = request.body;
    const vocabSize = ctx.client.model.vocabSize;
    checkCompatFields(body, GENERATE_COMPAT);
    const samplingInput = body.sampling_params ?? {};
    checkCompatFields(samplingInput, SAMPLING_COMPAT, 'sampling_params.');
    const prompts = generatePrompts(body.text ?? undefined, body.input_ids ?? undefined, { vocabSize, maxBatchSize: ctx.options.maxBatchSize });
    const sampling = toSamplingParams(samplingInput, vocabSize, 'sampling_params.');
    const topLogprobsNum = body.top_logprobs_num ?? 0;
    if (topLogprobsNum > vocabSize) throw new HttpError(400, `top_logprobs_num must be at most the vocabulary size (${vocabSize})`, 'top_logprobs_num');
    const logprobs = body.return_logprob ? { returnLogprob: true, logprobStartLen: body.logprob_start_len ?? -1, topLogprobsNum, returnTextInLogprobs: body.return_text_in_logprobs ?? false } : NO_LOGPROBS;
    const rids = requestIds(body.rid ?? undefined, prompts.inputs.length, prompts.batch);
    const requests = buildRequests(prompts.inputs, rids, sampling, logprobs, pdBootstraps(body, prompts.inputs.length, ctx.options));
    return serveGeneration(ctx.generation, request, reply, requests, sglangFormat(prompts.batch, body.stream ?? false));
  });
}
