/**
 * OpenAI GET /v1/models and /v1/models/{model}: the one model this node serves, under its served name.
 */
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';
import type { ServerContext } from '../server-context.js';

export function registerModelsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // Fixed at start-up, so a client listing models twice sees the same card.
  const card = {
    id: ctx.servedModelName,
    object: 'model',
    created: Math.floor(Date.now() / 1000),
    owned_by: 'pd-node',
    root: ctx.client.model.modelPath,
    max_model_len: ctx.client.model.contextLength,
  };
  app.get('/v1/models', async () => ({ object: 'list', data: [card] }));
  // A wildcard, not `:model`: model names often contain '/' (org/name).
  app.get<{ Params: { '*': string } }>('/v1/models/*', async (request) => {
    const model = request.params['*'];
    if (model !== card.id) throw new HttpError(404, `The model '${model}' does not exist`, 'model', 'model_not_found');
    return card;
  });
}
