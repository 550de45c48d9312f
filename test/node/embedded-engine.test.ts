/**
 * `startNode` with an engine of the embedding application's own (test/node/fixed-token-engine.ts,
 * loaded by the scheduler worker from its module URL): its text comes back over HTTP, the node
 * reports the engine and its settings, and a module that is not an engine, or a bad setting, fails
 * start-up naming the problem.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startNode, type NodeHandle } from '../../src/index.js';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';
import { getJson, postJson } from '../helpers/processes.js';
import { FIXED_TOKEN_ENGINE } from './fixed-token-engine.js';

const MODULE = new URL('./fixed-token-engine.js', import.meta.url).href;
const NEW_TOKENS = 5;

describe('startNode with an engine module of its own', () => {
  let node: NodeHandle;
  let tokenizer: HfTokenizer;
  let tokenId: number;

  before(async () => {
    tokenizer = HfTokenizer.fromDir(await ensureDefaultModel());
    // An ordinary token that is not the first one, so a default or a constant could not pass.
    tokenId = tokenizer.encode(' river', false).at(-1)!;
    assert.ok(tokenId > 0 && !tokenizer.isSpecial(tokenId));
    node = await startNode({ port: 0, logLevel: 'silent', engine: { module: MODULE, config: { tokenId } } });
  });
  after(async () => {
    await node?.close();
  });

  test('its text comes back over HTTP', async () => {
    const res = await postJson(`${node.url}/generate`, { text: 'Once upon a time', sampling_params: { temperature: 0, max_new_tokens: NEW_TOKENS, ignore_eos: true } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const expected = Array(NEW_TOKENS).fill(tokenId);
    assert.deepEqual(res.body.output_ids, expected);
    assert.equal(res.body.text, tokenizer.decode(expected, true));
    assert.ok(res.body.text.length > 0);
  });

  test('the node reports the engine and its settings', async () => {
    const info = await getJson(`${node.url}/get_model_info`);
    assert.equal(info.engine, FIXED_TOKEN_ENGINE);
    assert.deepEqual(info.engine_config, { token_id: tokenId });
    assert.equal(info.served_model_name, FIXED_TOKEN_ENGINE);
  });

  test('a bad setting, an unknown one, or a module without a descriptor fails start-up naming it', async () => {
    await assert.rejects(startNode({ port: 0, logLevel: 'silent', engine: { module: MODULE, config: { tokenId: 'x' } } }), /--token-id must be a token id \(got "x"\)/);
    await assert.rejects(startNode({ port: 0, logLevel: 'silent', engine: { module: MODULE, config: { tokenId, kernel: 'js' } } }), /engine fixed-token has no setting "kernel"/);
    const notAnEngine = new URL('../helpers/processes.js', import.meta.url).href;
    await assert.rejects(startNode({ port: 0, logLevel: 'silent', engine: { module: notAnEngine } }), /must export an EngineDescriptor as its default export/);
    await assert.rejects(startNode({ port: 0, logLevel: 'silent', engine: { name: 'synthetic' } }), /--engine synthetic needs --model-shape/);
  });
});
