/**
 * SSE event splitting (events split across chunks and multi-byte characters, CRLF framing, a cut-off
 * tail) and the input-logprob merge for whole answers and streams.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mergeStreamEvent, mergeWhole, prefillInputLogprobs } from '../../src/router/logprob-merge.js';
import { sseData, sseEvents } from '../../src/router/sse-events.js';

async function collect(chunks: string[] | Buffer[]): Promise<string[]> {
  async function* source(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield Buffer.isBuffer(c) ? c : Buffer.from(c);
  }
  const out: string[] = [];
  for await (const e of sseEvents(source())) out.push(e);
  return out;
}

describe('sse events', () => {
  test('events are yielded whole and exact, whatever the chunking', async () => {
    const text = 'data: {"text":"é"}\n\ndata: [DONE]\n\n';
    const bytes = Buffer.from(text);
    const oneByteChunks = [...bytes].map((b) => Buffer.from([b]));
    assert.deepEqual(await collect(oneByteChunks), ['data: {"text":"é"}\n\n', 'data: [DONE]\n\n']);
    assert.deepEqual(await collect([text]), ['data: {"text":"é"}\n\n', 'data: [DONE]\n\n']);
  });

  test('CRLF framing, comments, multi-line data, and a cut-off tail', async () => {
    const events = await collect(['data: a\r\n\r\n: comment\n\ndata: b\ndata: c\n\ndata: cut']);
    assert.deepEqual(events, ['data: a\r\n\r\n', ': comment\n\n', 'data: b\ndata: c\n\n']);
    assert.deepEqual(events.map(sseData), ['a', null, 'b\nc']);
  });
});

describe('logprob merge', () => {
  const prefillOne = { text: 'p', meta_info: { input_token_logprobs: [[-1, 1, null]], input_top_logprobs: [null] } };

  test('whole answers: prefill lists first, then the decode node’s own', () => {
    const from = prefillInputLogprobs(JSON.stringify(prefillOne), false);
    const merged = JSON.parse(mergeWhole(JSON.stringify({ text: 'd', meta_info: { id: 'x', input_token_logprobs: [[-2, 2, null]] } }), from));
    assert.deepEqual(merged.meta_info.input_token_logprobs, [[-1, 1, null], [-2, 2, null]]);
    assert.deepEqual(merged.meta_info.input_top_logprobs, [null]);
    assert.equal(merged.meta_info.id, 'x');
  });

  test('batches merge by position; text that is not JSON is left alone', () => {
    const from = prefillInputLogprobs(JSON.stringify([{ meta_info: { input_token_logprobs: [[0, 0, null]] } }, { meta_info: { input_token_logprobs: [[1, 1, null]] } }]), false);
    const merged = JSON.parse(mergeWhole(JSON.stringify([{ meta_info: {} }, { meta_info: {} }]), from));
    assert.deepEqual(merged.map((o: any) => o.meta_info.input_token_logprobs), [[[0, 0, null]], [[1, 1, null]]]);
    assert.equal(mergeWhole('not json', from), 'not json');
  });

  test('streams: from the prefill stream’s last chunk per index into every decode chunk with meta_info', () => {
    const prefillStream = [
      `data: ${JSON.stringify({ index: 1, meta_info: { input_token_logprobs: [] } })}`,
      `data: ${JSON.stringify({ index: 1, meta_info: { input_token_logprobs: [[1, 1, null]] } })}`,
      `data: ${JSON.stringify({ index: 0, meta_info: { input_token_logprobs: [[0, 0, null]] } })}`,
      'data: [DONE]',
      '',
    ].join('\n\n');
    const from = prefillInputLogprobs(prefillStream, true);
    const chunk = (index: number) => `data: ${JSON.stringify({ index, text: 't', meta_info: { input_token_logprobs: [] } })}\n\n`;
    const merged = (event: string) => JSON.parse(sseData(mergeStreamEvent(event, from))!).meta_info.input_token_logprobs;
    assert.deepEqual(merged(chunk(0)), [[0, 0, null]]);
    assert.deepEqual(merged(chunk(1)), [[1, 1, null]]);
    assert.deepEqual(merged(chunk(0)), [[0, 0, null]], 'a later chunk of the same prompt too');
    assert.equal(mergeStreamEvent('data: [DONE]\n\n', from), 'data: [DONE]\n\n');
    assert.equal(mergeStreamEvent(': keep-alive\n\n', from), ': keep-alive\n\n');
  });
});
