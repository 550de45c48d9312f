/**
 * Worker-thread entry of the scheduler actor: owns the engine, the KV pool, its allocator and the
 * tokenizer, so the main thread never runs model code. Steps run back to back while there is work
 * (setImmediate between steps lets aborts and new requests in); when idle the thread sleeps on its
 * message port.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createWasmKvPool } from '../../src/engine/reference/kernels/wasm-arena.js';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { createLogger } from '../../src/log/logger.js';
import { loadModel } from '../../src/model/load-model.js';
import { Sampler } from '../../src/sampling/sampler.js';
import { KvAllocator } from '../allocator/kv-allocator.js';
import type { ModelInfo, SchedulerInbound, SchedulerOutbound } from '../protocol/scheduler.js';
import { poolPages } from './pool-size.js';
import { Scheduler } from './scheduler.js';
import type { SchedulerWorkerData } from './worker-data.js';

const port = parentPort;
if (!port) throw new Error('scheduler-worker must run in a worker thread');
const { options, modelDir } = workerData as SchedulerWorkerData;
const log = createLogger(options.logLevel).child({ actor: 'scheduler' });
const post = (msg: SchedulerOutbound): void => port.postMessage(msg);

function start(): Scheduler {
  const { config, weights, tokenizer } = loadModel(modelDir);
  const layout = gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', options.pageSize);
  const contextLength = config.maxPositionEmbeddings;
  const pages = poolPages(layout, contextLength, options.maxTotalTokens);
  // With the WASM kernel the pool lives in the kernel's memory, so attention reads pages in place.
  const pool = options.kernel === 'wasm' ? createWasmKvPool(layout, pages) : new KvPool(layout, pages);
  const engine = new ReferenceEngine(config, weights, pool, { kernel: options.kernel });
  const allocator = new KvAllocator(pages, options.pageSize);
  const scheduler = new Scheduler(
    { maxRunningRequests: options.maxRunningRequests, chunkedPrefillSize: options.chunkedPrefillSize, contextLength },
    { engine, allocator, tokenizer, sampler: new Sampler(config.vocabSize), emit: post, log },
  );
  const model: ModelInfo = {
    modelPath: modelDir,
    servedModelName: options.servedModelName ?? options.modelPath ?? 'pd-node/tiny',
    vocabSize: config.vocabSize,
    contextLength,
    numLayers: config.numLayers,
    hiddenSize: config.hiddenSize,
    kvLayout: { ...layout },
    eosTokenIds: [...tokenizer.eosTokenIds],
    engine: engine.name,
  };
  log.info({ modelDir, pages, pageSize: options.pageSize, poolBytes: pool.numPages * pool.pageBytes, engine: engine.name, kernel: engine.kernel, attentionInPlace: engine.attentionInPlace }, 'scheduler ready');
  post({ type: 'ready', model });
  return scheduler;
}

let scheduler: Scheduler;
try {
  scheduler = start();
} catch (err) {
  post({ type: 'init_failed', message: (err as Error).message });
  process.exit(1);
}

let stepQueued = false;
function kick(): void {
  if (stepQueued || !scheduler.hasWork()) return;
  stepQueued = true;
  setImmediate(() => {
    stepQueued = false;
    scheduler.step();
    kick();
  });
}

port.on('message', (msg: SchedulerInbound) => {
  switch (msg.type) {
    case 'generate':
      scheduler.submit(msg.req);
      break;
    case 'abort':
      scheduler.abort(msg.rid, msg.reason);
      break;
    case 'stats':
      post({ type: 'stats', seq: msg.seq, stats: scheduler.stats() });
      break;
    case 'flush_cache':
      // No prefix cache yet: flushing succeeds when nothing is running (SGLang refuses otherwise).
      post({ type: 'flushed', seq: msg.seq, ok: !scheduler.hasWork() });
      break;
    case 'shutdown':
      port.close();
      return;
  }
  kick();
});
