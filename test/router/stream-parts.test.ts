/**
 * An upstream body's text (multi-byte characters split across reads of a reused read buffer), SSE
 * event splitting (events split across chunks, CRLF framing, a cut-off tail) and the input-logprob
 * merge for whole answers and streams.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExchangeHandler, Http1Pool } from '../../src/net/http1-pool.js';
import { mergeStreamEvent, mergeWhole, prefillInputLogprobs } from '../../src/router/logprob-merge.js';
import { sseData, sseEvents } from '../../src/router/sse-events.js';
import { UpstreamRequest } from '../../src/router/upstream-request.js';

async function collect(chunks: AsyncIterable<string> | string[]): Promise<string[]> {
  async function* source(): AsyncGenerator<string> {
    for await (const c of chunks) yield c;
  }
  const out: string[] = [];
  for await (const e of sseEvents(source())) out.push(e);
  return out;
}

/**
 * An exchange whose body arrives one byte per read, each read in the same buffer (as the pool's
 * shared read buffer is reused), overwritten after the read was handed on.
 */
function oneByteReads(body: string | Buffer): UpstreamRequest {
  let handler: ExchangeHandler | null = null;
  const pool = { origin: { url: 'http://fake' }, request: (_r: unknown, h: ExchangeHandler) => ((handler = h), { abort() {} }) } as unknown as Http1Pool;
  const watcher = { answered() {}, over() {} };
  const req = new UpstreamRequest({ method: 'POST', pool, path: '/generate', timeoutMs: 1000, connectTimeoutMs: 1000, apiKey: null, node: null, watcher });
  const feed = handler as unknown as ExchangeHandler;
  feed.onHead({ status: 200, headers: { 'content-type': 'text/event-stream' } } as never);
  const shared = Buffer.alloc(1);
  for (const byte of Buffer.from(body)) {
    shared[0] = byte;
    feed.onData(shared);
    shared[0] = 0;
  }
  feed.onEnd();
  return req;
}

describe('upstream body text and sse events', () => {
  const text = 'data: {"text":"é, 漢, 😀"}\n\ndata: [DONE]\n\n';

  test('a body split inside multi-byte characters, read through a reused buffer, arrives whole and exact', async () => {
    assert.equal(await oneByteReads(text).text(), text);
    assert.deepEqual(await collect(oneByteReads(text).chunks()), ['data: {"text":"é, 漢, 😀"}\n\n', 'data: [DONE]\n\n']);
    assert.equal(await oneByteReads(Buffer.from('{"text":"é').subarray(0, -1)).text(), '{"text":"\ufffd', 'a body cut inside a character ends with U+FFFD, as a decoder does');
  });

  test('events are yielded whole and exact, whatever the chunking', async () => {
    assert.deepEqual(await collect([...text]), ['data: {"text":"é, 漢, 😀"}\n\n', 'data: [DONE]\n\n']);
    assert.deepEqual(await collect([text]), ['data: {"text":"é, 漢, 😀"}\n\n', 'data: [DONE]\n\n']);
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
