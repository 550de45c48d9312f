/**
 * The fixed-token engine (fixed-token-engine.ts) made to fail as an embedder's engine can, after the
 * scheduler worker placed the KV pool: `--fail-at create` throws from `create` (the node's start-up
 * fails), `--fail-at file` crashes the worker's thread (an uncaught exception) once the file
 * `--crash-file` exists, so a test picks the moment, after the node started. `--step-ms` makes every
 * forward call take that long (the thread sleeps), so a prompt in chunks stays in flight a while.
 */
import { existsSync } from 'node:fs';
import type { EngineDescriptor } from '../../src/engine/descriptor.js';
import fixedToken from './fixed-token-engine.js';

/** How often the engine looks for its crash file. */
const POLL_MS = 20;

type FailingConfig = { readonly tokenId: number; readonly failAt: 'create' | 'file'; readonly crashFile: string; readonly stepMs: number };

const descriptor: EngineDescriptor<FailingConfig> = {
  ...fixedToken,
  name: 'failing',
  summary: 'the fixed-token engine, failing on purpose',
  flags: [
    ...fixedToken.flags,
    { name: 'fail-at', field: 'failAt', describe: 'create or file', defaultText: 'none (required)', parse: (_f, raw) => raw },
    { name: 'crash-file', field: 'crashFile', describe: 'crash once this file exists', defaultText: 'none', parse: (_f, raw) => raw },
    { name: 'step-ms', field: 'stepMs', describe: 'how long each forward call takes', defaultText: '0', parse: (_f, raw) => Number(raw) },
  ],
  config(given) {
    const { tokenId } = fixedToken.config(given);
    if (given.failAt !== 'create' && given.failAt !== 'file') throw new Error('the failing engine needs failAt: create or file');
    return { tokenId, failAt: given.failAt, crashFile: String(given.crashFile ?? ''), stepMs: Number(given.stepMs ?? 0) };
  },
  async load(config, ctx) {
    const loaded = await fixedToken.load(config, ctx);
    return {
      ...loaded,
      create(pool) {
        if (config.failAt === 'create') throw new Error('the failing engine failed in create, as asked');
        const timer = setInterval(() => {
          if (!existsSync(config.crashFile)) return;
          clearInterval(timer);
          throw new Error('the failing engine crashed its thread, as asked');
        }, POLL_MS);
        const created = loaded.create(pool);
        const { engine } = created;
        const inner = engine.forward.bind(engine);
        const sleeper = new Int32Array(new SharedArrayBuffer(4));
        engine.forward = (items) => {
          Atomics.wait(sleeper, 0, 0, config.stepMs);
          return inner(items);
        };
        return created;
      },
    };
  },
};

export default descriptor;
