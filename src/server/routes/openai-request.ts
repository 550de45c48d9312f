/**
 * Request-side rules shared by the OpenAI routes: the `model` check (absent, the served name or the
 * model path are accepted; anything else is OpenAI's 404 `model_not_found`), `n` = 1 only, penalties
 * only 0, the compatibility fields "off" (compat-fields.ts), and the mapping of OpenAI's sampling
 * fields onto SGLang's.
 */
import type { SamplingParams } from '../../sampling/params.js';
import { HttpError } from '../errors.js';
import type { OpenAiResponseInfo } from '../formats/openai-common.js';
import { toSamplingParams } from '../sampling.js';
import { checkCompatFields, type CompatTable } from '../schemas/compat-fields.js';
import type { OpenAiCommonBody } from '../schemas/openai.js';
import type { ServerContext } from '../server-context.js';

export function checkOpenAiRequest(body: OpenAiCommonBody, ctx: ServerContext, compat: CompatTable): void {
  checkCompatFields(body, compat);
  if (body.stream_options?.continuous_usage_stats === true) {
    throw new HttpError(400, 'stream_options.continuous_usage_stats is not supported: usage comes in one last chunk (include_usage)', 'stream_options.continuous_usage_stats');
  }
  const model = body.model ?? null;
  if (model !== null && model !== ctx.servedModelName && model !== ctx.client.model.modelPath) {
    throw new HttpError(404, `The model '${model}' does not exist; this server serves '${ctx.servedModelName}'`, 'model', 'model_not_found');
  }
  if ((body.n ?? 1) !== 1) throw new HttpError(400, `n must be 1: one choice per prompt is supported (got ${body.n})`, 'n');
  for (const field of ['presence_penalty', 'frequency_penalty'] as const) {
    const value = body[field] ?? 0;
    if (value !== 0) throw new HttpError(400, `${field} is not supported; only 0 is accepted (got ${value})`, field);
  }
}

export function openAiSampling(body: OpenAiCommonBody, maxTokens: number | null | undefined, vocabSize: number, defaults: Readonly<SamplingParams>): SamplingParams {
  const { temperature, top_p, top_k, min_p, stop, stop_token_ids, ignore_eos, skip_special_tokens, seed } = body;
  return toSamplingParams({ max_new_tokens: maxTokens, temperature, top_p, top_k, min_p, stop, stop_token_ids, ignore_eos, skip_special_tokens, seed }, vocabSize, '', defaults);
}

export function responseInfo(id: string, body: OpenAiCommonBody, ctx: ServerContext): OpenAiResponseInfo {
  const stream = body.stream ?? false;
  return {
    id,
    created: Math.floor(Date.now() / 1000),
    model: ctx.servedModelName,
    stream,
    includeUsage: stream && (body.stream_options?.include_usage ?? false),
  };
}
