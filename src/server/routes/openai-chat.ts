/**
 * OpenAI POST /v1/chat/completions. The messages go to the scheduler as a 'chat' prompt (it applies
 * the model's chat template); text content parts are joined with newlines; a message's other
 * fields (`name`, tool fields) are accepted as compat-fields.ts says. `max_completion_tokens` wins over the older `max_tokens`; without
 * either, SGLang's default applies. `rid` names the request as on /generate.
 */
import type { FastifyInstance } from 'fastify';
import type { ChatMessage } from '../../model/types.js';
import { DEFAULT_SAMPLING } from '../../sampling/params.js';
import { buildRequests, NO_LOGPROBS } from '../build-requests.js';
import { HttpError } from '../errors.js';
import { chatFormat } from '../formats/openai-chat.js';
import { requestIds } from '../request-ids.js';
import { CHAT_COMPAT, checkCompatFields, MESSAGE_COMPAT } from '../schemas/compat-fields.js';
import { CHAT_BODY_SCHEMA, type ChatBody } from '../schemas/openai.js';
import { pdBootstraps } from '../pd-fields.js';
import { serveGeneration } from '../serve-generation.js';
import type { ServerContext } from '../server-context.js';
import { checkOpenAiRequest, openAiSampling, responseInfo } from './openai-request.js';

export function registerChatRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: CHAT_BODY_SCHEMA } }, async (request, reply) => {
    const body = request.body;
    checkOpenAiRequest(body, ctx, CHAT_COMPAT);
    for (let i = 0; i < body.messages.length; i++) checkCompatFields(body.messages[i], MESSAGE_COMPAT, `messages[${i}].`);
    const topLogprobs = body.top_logprobs ?? 0;
    if (topLogprobs > 0 && body.logprobs !== true) throw new HttpError(400, 'top_logprobs requires logprobs: true', 'top_logprobs');
    const messages: ChatMessage[] = body.messages.map((m) => ({
      role: m.role,
      content: typeof m.content === 'string' ? m.content : m.content.map((part) => part.text).join('\n'),
    }));
    const sampling = openAiSampling(body, body.max_completion_tokens ?? body.max_tokens, ctx.client.model.vocabSize, DEFAULT_SAMPLING);
    const logprobs = body.logprobs === true ? { returnLogprob: true, logprobStartLen: -1, topLogprobsNum: topLogprobs, returnTextInLogprobs: true } : NO_LOGPROBS;
    const [rid] = requestIds(body.rid ?? undefined, 1, false);
    const requests = buildRequests([{ kind: 'chat', messages }], [rid], sampling, logprobs, pdBootstraps(body, 1, ctx.options));
    return serveGeneration(ctx.generation, request, reply, requests, chatFormat(responseInfo(`chatcmpl-${rid}`, body, ctx)));
  });
}
