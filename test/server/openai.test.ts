/**
 * The official `openai` npm client against a real node: models, completions and chat, whole and
 * streamed, logprobs, and the typed errors it raises for our error bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startNode, type NodeHandle } from '../../src/node/start-node.js';
import { postJson } from './support.js';

const SERVED = 'tiny-test-model';

describe('OpenAI-compatible API with the official client', () => {
  let node: NodeHandle;
  let openai: OpenAI;
  before(async () => {
    node = await startNode({ port: 0, logLevel: 'warn', servedModelName: SERVED });
    openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'not-checked', maxRetries: 0 });
  });
  after(async () => {
    await node?.close();
  });

  test('models.list and models.retrieve show the served name', async () => {
    const models = [];
    for await (const m of openai.models.list()) models.push(m);
    assert.deepEqual(models.map((m) => m.id), [SERVED]);
    assert.equal((await openai.models.retrieve(SERVED)).id, SERVED);
    await assert.rejects(openai.models.retrieve('other'), OpenAI.NotFoundError);
  });

  test('completions: greedy text equals /generate for the same prompt', async () => {
    const prompt = 'The quick brown fox';
    const completion = await openai.completions.create({ model: SERVED, prompt, max_tokens: 10, temperature: 0 });
    assert.equal(completion.object, 'text_completion');
    assert.equal(completion.model, SERVED);
    assert.match(completion.id, /^cmpl-/);
    const [choice] = completion.choices;
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    const native = await postJson(`${node.url}/generate`, { text: prompt, sampling_params: { temperature: 0, max_new_tokens: 10 } });
    assert.equal(choice.text, native.json.text);
    assert.equal(completion.usage?.completion_tokens, native.json.meta_info.completion_tokens);
    assert.equal(completion.usage?.prompt_tokens, native.json.meta_info.prompt_tokens);
    assert.equal(completion.usage?.total_tokens, completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
  });

  test('completions: a list of prompts gives one choice each; logprobs per token', async () => {
    const completion = await openai.completions.create({ model: SERVED, prompt: ['one', 'two'], max_tokens: 4, temperature: 0, logprobs: 2 });
    assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
    for (const c of completion.choices) {
      const n = c.logprobs!.token_logprobs!.length;
      assert.ok(n >= 1 && n <= 4);
      assert.equal(c.logprobs!.top_logprobs!.length, n);
      assert.equal(c.logprobs!.text_offset!.length, n);
      assert.ok(c.logprobs!.token_logprobs!.every((lp) => lp <= 0));
      // Token texts are filled in (they are decoded from the token ids by the scheduler).
      assert.ok(c.logprobs!.tokens!.every((t) => t.length > 0), JSON.stringify(c.logprobs!.tokens));
    }
  });

  test('completions: streaming adds up to the whole answer, with a usage chunk', async () => {
    const params = { model: SERVED, prompt: 'Once upon a time', max_tokens: 12, temperature: 0 } as const;
    const whole = await openai.completions.create(params);
    const stream = await openai.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage = null;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      for (const c of chunk.choices) {
        text += c.text;
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(ids.size, 1, 'every chunk has the same id');
    assert.equal(text, whole.choices[0].text);
    assert.equal(finish, whole.choices[0].finish_reason);
    assert.deepEqual(usage, whole.usage);
  });

  test('chat: an assistant message with usage', async () => {
    const chat = await openai.chat.completions.create({
      model: SERVED,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say hello.' },
      ],
      max_tokens: 8,
      temperature: 0,
    });
    assert.equal(chat.object, 'chat.completion');
    assert.match(chat.id, /^chatcmpl-/);
    const [choice] = chat.choices;
    assert.equal(choice.message.role, 'assistant');
    assert.equal(typeof choice.message.content, 'string');
    assert.ok(['stop', 'length'].includes(choice.finish_reason));
    assert.ok(chat.usage!.prompt_tokens > 4, 'the chat template adds tokens around the messages');
    assert.ok(chat.usage!.completion_tokens >= 1 && chat.usage!.completion_tokens <= 8);
  });

  test('chat: streaming sends the role first, then deltas adding up to the whole answer', async () => {
    const params = { model: SERVED, messages: [{ role: 'user' as const, content: 'Tell me a story.' }], max_completion_tokens: 12, temperature: 0 };
    const whole = await openai.chat.completions.create(params);
    const stream = await openai.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
    const deltas = [];
    let usage = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      deltas.push(...chunk.choices);
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(deltas[0].delta.role, 'assistant');
    assert.ok(deltas.slice(1).every((d) => d.delta.role === undefined), 'the role comes once');
    assert.equal(deltas.map((d) => d.delta.content ?? '').join(''), whole.choices[0].message.content);
    assert.equal(deltas.at(-1)!.finish_reason, whole.choices[0].finish_reason);
    assert.deepEqual(usage, whole.usage);
  });

  test('chat: logprobs, one entry per generated token', async () => {
    const chat = await openai.chat.completions.create({ model: SERVED, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = chat.choices[0].logprobs!.content!;
    assert.equal(content.length, chat.usage!.completion_tokens);
    for (const t of content) {
      assert.ok(t.logprob <= 0);
      assert.equal(t.top_logprobs.length, 2);
      assert.equal(t.top_logprobs[0].logprob, t.logprob, 'greedy takes the most likely token');
      assert.equal(t.top_logprobs[0].token, t.token);
      assert.ok(t.token.length > 0);
    }
  });

  test('errors come back as the client library\'s typed errors', async () => {
    const notFound = await openai.chat.completions.create({ model: 'gpt-17', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    assert.ok(notFound instanceof OpenAI.NotFoundError);
    assert.equal(notFound.code, 'model_not_found');
    const bad = await openai.completions.create({ model: SERVED, prompt: 'a', n: 2 }).catch((e: unknown) => e);
    assert.ok(bad instanceof OpenAI.BadRequestError);
    assert.equal(bad.param, 'n');
    const badStream = await openai.completions.create({ model: SERVED, prompt: 'a', max_tokens: 2, temperature: -1, stream: true }).catch((e: unknown) => e);
    assert.ok(badStream instanceof OpenAI.BadRequestError, 'a stream that cannot start is a plain 400');
  });
});
