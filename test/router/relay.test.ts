/**
 * The router's happy path against fake PD nodes: both nodes get the same body (the client's text plus
 * the bootstrap fields, the 63-bit room as an exact integer literal), the client gets the decode
 * node's answer (whole or streamed byte for byte), prefill's input logprobs are merged when asked for,
 * batches get one room per prompt, and the router's own 400s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sseChunks } from '../server/support.js';
import { BOOTSTRAP_PORT, post, startCluster, type Cluster } from './cluster.js';
import { goodDecode, goodPrefill, PREFILL_INPUT_LOGPROBS, PREFILL_INPUT_TOP, RoomBoard } from './fake-pd-node.js';

const TWO_63 = 1n << 63n;
const TWO_53 = 1n << 53n;

describe('router relay', { timeout: 60_000 }, () => {
  let c: Cluster;
  before(async () => {
    const kv = new RoomBoard();
    c = await startCluster([goodPrefill(kv)], [goodDecode(kv)]);
  });
  after(async () => {
    await c?.close();
  });

  test('both nodes get the client text plus the bootstrap fields; the room survives as an exact 63-bit integer', async () => {
    const rooms: bigint[] = [];
    for (let i = 0; i < 8; i++) {
      // A client integer beyond 2^53 too: the body is relayed as text, never through JS numbers.
      const client = `{"text": "hello ${i}", "sampling_params": {"max_new_tokens": 2, "seed": 18446744073709551557}}`;
      const { status, text } = await post(`${c.router.url}/generate`, client);
      assert.equal(status, 200);
      const [prefill] = c.prefills[0].generations.slice(-1);
      const [decode] = c.decodes[0].generations.slice(-1);
      assert.equal(text, decode.sent, 'the client gets the decode answer as sent');
      assert.equal(prefill.text, decode.text, 'both nodes get the same bytes');
      assert.equal(prefill.path, '/generate');
      assert.equal(decode.path, '/generate');
      const [room] = prefill.rooms;
      assert.match(room, /^\d+$/);
      assert.equal(prefill.text, `${client.slice(0, -1)},"bootstrap_host":"127.0.0.1","bootstrap_port":${BOOTSTRAP_PORT},"bootstrap_room":${room}}`);
      rooms.push(BigInt(room));
    }
    assert.equal(new Set(rooms).size, rooms.length, 'a fresh room per request');
    for (const room of rooms) assert.ok(room >= 0n && room < TWO_63, `room ${room} in [0, 2^63)`);
    // A 63-bit random value is a JS double exactly with probability ~2^-10; 8 of them all being so
    // would mean the room went through a number.
    assert.ok(rooms.some((r) => r > TWO_53 && BigInt(Number(r)) !== r), 'digits beyond 2^53 survive');
  });

  test('a batch gets one host, port and room per prompt', async () => {
    const client = JSON.stringify({ text: ['a', 'b', 'c'], sampling_params: { max_new_tokens: 2 } });
    const { status, text } = await post(`${c.router.url}/generate`, client);
    assert.equal(status, 200);
    const [decode] = c.decodes[0].generations.slice(-1);
    assert.equal(JSON.parse(text).length, 3);
    assert.equal(text, decode.sent);
    assert.equal(decode.rooms.length, 3);
    assert.equal(new Set(decode.rooms).size, 3, 'distinct rooms');
    const fields = `"bootstrap_host":["127.0.0.1","127.0.0.1","127.0.0.1"],"bootstrap_port":[${BOOTSTRAP_PORT},${BOOTSTRAP_PORT},${BOOTSTRAP_PORT}],"bootstrap_room":[${decode.rooms.join(',')}]`;
    assert.equal(decode.text, `${client.slice(0, -1)},${fields}}`);
    assert.equal(c.prefills[0].generations.at(-1)!.text, decode.text);
  });

  test('input_ids as one list of ids is a single prompt, not a batch', async () => {
    const { status } = await post(`${c.router.url}/generate`, JSON.stringify({ input_ids: [1, 2, 3] }));
    assert.equal(status, 200);
    const [decode] = c.decodes[0].generations.slice(-1);
    assert.equal(typeof decode.json.bootstrap_host, 'string');
    assert.equal(decode.rooms.length, 1);
  });

  test('a stream is relayed byte for byte', async () => {
    const res = await fetch(`${c.router.url}/generate`, { method: 'POST', body: JSON.stringify({ text: 'hi', stream: true }) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const body = await res.text();
    const [decode] = c.decodes[0].generations.slice(-1);
    assert.equal(body, decode.sent);
    const chunks = sseChunks(body);
    assert.deepEqual(
      chunks.map((ch) => ch.text),
      [' decoded', ' decoded text'],
    );
  });

  test('return_logprob: prefill input logprobs are merged into the whole answer', async () => {
    const { status, text } = await post(`${c.router.url}/generate`, JSON.stringify({ text: 'hi', return_logprob: true, top_logprobs_num: 1 }));
    assert.equal(status, 200);
    const meta = JSON.parse(text).meta_info;
    assert.deepEqual(meta.input_token_logprobs, PREFILL_INPUT_LOGPROBS);
    assert.deepEqual(meta.input_top_logprobs, PREFILL_INPUT_TOP);
    assert.deepEqual(meta.output_token_logprobs, [[-0.5, 7, null]], 'the decode node’s own fields stay');
    assert.equal(meta.id, 'decode-rid');
  });

  test('return_logprob on a batch merges per prompt', async () => {
    const { status, text } = await post(`${c.router.url}/generate`, JSON.stringify({ text: ['x', 'y'], return_logprob: true }));
    assert.equal(status, 200);
    for (const out of JSON.parse(text)) assert.deepEqual(out.meta_info.input_token_logprobs, PREFILL_INPUT_LOGPROBS);
  });

  test('return_logprob with stream: merged into every chunk that has meta_info, the rest relayed as is', async () => {
    const res = await fetch(`${c.router.url}/generate`, { method: 'POST', body: JSON.stringify({ text: 'hi', stream: true, return_logprob: true }) });
    assert.equal(res.status, 200);
    const body = await res.text();
    const chunks = sseChunks(body);
    assert.equal(chunks.length, 2);
    for (const chunk of chunks) assert.deepEqual(chunk.meta_info.input_token_logprobs, PREFILL_INPUT_LOGPROBS);
    assert.deepEqual(chunks[1].meta_info.output_token_logprobs, [[-0.5, 7, null]]);
    assert.ok(body.endsWith('\n\ndata: [DONE]\n\n'));
  });

  test('OpenAI routes go to the same path on both nodes', async () => {
    for (const path of ['/v1/completions', '/v1/chat/completions']) {
      const body = path === '/v1/completions' ? { prompt: 'hi', max_tokens: 2 } : { messages: [{ role: 'user', content: 'hi' }] };
      const { status } = await post(`${c.router.url}${path}`, JSON.stringify(body));
      assert.equal(status, 200);
      assert.equal(c.prefills[0].generations.at(-1)!.path, path);
      assert.equal(c.decodes[0].generations.at(-1)!.path, path);
      assert.equal(c.decodes[0].generations.at(-1)!.json.bootstrap_port, BOOTSTRAP_PORT);
    }
  });

  test('a completions prompt list is a batch', async () => {
    const { status } = await post(`${c.router.url}/v1/completions`, JSON.stringify({ prompt: ['a', 'b'] }));
    assert.equal(status, 200);
    assert.equal(c.decodes[0].generations.at(-1)!.rooms.length, 2);
  });

  test('bad bodies and router-owned fields are 400s that reach no node', async () => {
    const before = c.decodes[0].generations.length + c.prefills[0].generations.length;
    const cases: [string, RegExp, string | null][] = [
      ['{"text": ', /not valid JSON/, null],
      ['["text"]', /must be a JSON object/, null],
      ['', /must be a JSON object/, null],
      ['{"text": "x", "bootstrap_room": 5}', /bootstrap_room is set by the router/, 'bootstrap_room'],
      ['{"text": "x", "bootstrap_host": "h"}', /bootstrap_host is set by the router/, 'bootstrap_host'],
    ];
    for (const [body, message, param] of cases) {
      const { status, text } = await post(`${c.router.url}/generate`, body);
      assert.equal(status, 400, body);
      const err = JSON.parse(text).error;
      assert.match(err.message, message);
      assert.equal(err.type, 'invalid_request_error');
      assert.equal(err.param, param);
    }
    assert.equal(c.decodes[0].generations.length + c.prefills[0].generations.length, before);
  });
});
