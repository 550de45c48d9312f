/**
 * The engine table (src/engine/engines.ts): flag names are unique across engines and clash with no
 * node flag (the CLI declares them all on one command), and `checkEngineConfig` holds an embedder's
 * config to the same rules as the command line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { builtInEngine, checkEngineConfig, ENGINES, resolveEngine } from '../../src/engine/engines.js';

describe('engine table', () => {
  test('every engine flag has one owner and is declared once on the node command', () => {
    const engineFlags = ENGINES.flatMap((e) => e.flags.map((f) => f.name));
    assert.equal(new Set(engineFlags).size, engineFlags.length, `engine flags: ${engineFlags.join(', ')}`);
    const all = NODE_FLAGS.map((f) => f.name);
    for (const name of engineFlags) assert.equal(all.filter((n) => n === name).length, 1, `--${name} once among the node flags`);
  });

  test('a config gets its defaults, and is refused naming the flag or field', () => {
    const reference = builtInEngine('reference')!;
    const synthetic = builtInEngine('synthetic')!;
    assert.deepEqual(checkEngineConfig(reference, {}), { kernel: 'native' });
    assert.deepEqual(checkEngineConfig(synthetic, { modelShape: 'llama-3.1-8b' }), { modelShape: 'llama-3.1-8b', gpu: 'h100' });
    assert.deepEqual(checkEngineConfig(synthetic, { modelShape: 'deepseek-v3', gpu: '8xh200' }), { modelShape: 'deepseek-v3', gpu: '8xh200' });
    assert.throws(() => checkEngineConfig(reference, { kernel: 'cuda' }), /^Error: --kernel must be one of native, wasm, js \(got "cuda"\)$/);
    assert.throws(() => checkEngineConfig(reference, { modelShape: 'llama-3.1-8b' }), /engine reference has no setting "modelShape" \(it has: kernel\)/);
    assert.throws(() => checkEngineConfig(synthetic, { gpu: 'h100' }), /--engine synthetic needs --model-shape/);
    assert.throws(() => checkEngineConfig(synthetic, { modelShape: { name: 'x' } }), /--model-shape \(modelShape\) must be a string, number or boolean/);
  });

  test('an unknown built-in name is refused with the list', async () => {
    await assert.rejects(resolveEngine({ name: 'llama-cpp' }), /unknown engine "llama-cpp": one of reference, synthetic, or \{ module \}/);
    assert.equal(await resolveEngine({ name: 'synthetic' }), builtInEngine('synthetic'));
  });
});
