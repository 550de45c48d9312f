/**
 * Worker-thread entry of the scheduler actor: owns the engine, the KV pool, its allocator and the
 * tokenizer, so the main thread never runs model code. The engine is the reference transformer
 * (weights and tokenizer from the model directory) or the synthetic one (a model shape; only the
 * directory's tokenizer is loaded). In PD mode it also starts the transfer actor
 * (a worker of its own) over the pool: the receiver on a decode node, the sender on a prefill node.
 * Steps run back to back while there is work (setImmediate between steps lets aborts and new
 * requests in); when idle the thread sleeps on its message port, waking every 100 ms only while PD
 * rooms wait on a peer (their timeouts). Before judging those timeouts the sweep reads the messages
 * already queued: one step can outlast a room's bound (a long prompt chunk on a loaded host), and
 * after it timers run before queued messages, so a page list or notice that arrived in time would
 * otherwise count as missing.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { createWasmKvPool } from '../../src/engine/reference/kernels/wasm-arena.js';
import type { Engine } from '../../src/engine/engine.js';
import { ReferenceEngine } from '../../src/engine/reference/llama-engine.js';
import { GPU_NAMES, parseGpu } from '../../src/engine/synthetic/gpus.js';
import { findModelShape, MODEL_SHAPE_NAMES, shapeLayout } from '../../src/engine/synthetic/model-shapes.js';
import { SyntheticEngine } from '../../src/engine/synthetic/synthetic-engine.js';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { createLogger } from '../../src/log/logger.js';
import { modelFingerprint, syntheticFingerprint } from '../../src/model/fingerprint.js';
import { loadModel } from '../../src/model/load-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';
import type { TextTokenizer } from '../../src/model/types.js';
import type { NodeOptions } from '../../src/node/options.js';
import { Sampler } from '../../src/sampling/sampler.js';
import type { ShmRegion } from '../../native/shm-region.js';
import { transferBackend } from '../../src/transfer/backends.js';
import { TransferActorClient } from '../transfer/transfer-actor-client.js';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import type { ModelInfo, SchedulerInbound, SchedulerOutbound } from './protocol.js';
import { poolPages } from './pool-size.js';
import { Scheduler, type PdSettings } from './scheduler.js';
import type { SchedulerWorkerData } from './worker-data.js';

const port = parentPort;
if (!port) throw new Error('scheduler-worker must run in a worker thread');
const { options, modelDir, notices, clusterSecret } = workerData as SchedulerWorkerData;
const log = createLogger(options.logLevel).child({ actor: 'scheduler', role: options.role });
const post = (msg: SchedulerOutbound): void => port.postMessage(msg);
const SWEEP_MS = 100;

/**
 * The pool: on a decode node, where its transfer backend places it if it does (shm: a shared-memory
 * object prefill maps; `region` is unlinked at shutdown), else in WASM memory when the reference
 * engine's WASM kernel reads it in place, else a SharedArrayBuffer.
 */
function createPool(layout: KvLayout, pages: number, wasm: boolean): { pool: KvPool; region: ShmRegion | null } {
  const placed = options.role === 'decode' ? transferBackend(options.transfer.backend).createPool?.(layout, pages) : undefined;
  return placed ?? { pool: wasm ? createWasmKvPool(layout, pages) : new KvPool(layout, pages), region: null };
}

function pdSettings(o: NodeOptions, transfer: TransferActorClient | null): PdSettings | undefined {
  const common = { bootstrapTimeoutMs: o.bootstrapTimeoutSecs * 1000, transferTimeoutMs: o.transferTimeoutSecs * 1000, maxRooms: 4 * o.maxRunningRequests + 64 };
  // Half the rooms per prefill peer: one that never delivers cannot hold them all (the rest of the
  // cluster keeps the other half), while one healthy peer still gets twice the running batch.
  if (o.role === 'decode') return { role: 'decode', grants: transfer!, maxRoomsPerPeer: 2 * o.maxRunningRequests + 32, ...common };
  // Unclaimed rooms hold no pages, only a tokenized prompt; a few times a decode node's own bound
  // keeps a router's burst from evicting its own rooms before decode claims them.
  if (o.role === 'prefill') return { role: 'prefill', writer: transfer!, ...common, maxUnclaimedRooms: 4 * common.maxRooms };
  return undefined;
}

/** What either engine's set-up hands the scheduler: the engine over its pool, and how to describe it. */
interface EngineSetup {
  engine: Engine;
  tokenizer: TextTokenizer;
  pool: KvPool;
  region: ShmRegion | null;
  contextLength: number;
  identity: Pick<ModelInfo, 'modelPath' | 'servedModelName' | 'numLayers' | 'hiddenSize' | 'fingerprint' | 'modelShape' | 'gpu'>;
  /** Engine-specific fields of the 'scheduler ready' log line. */
  logFields: Record<string, unknown>;
}

function referenceSetup(): EngineSetup {
  const { config, weights, tokenizer } = loadModel(modelDir);
  const layout = gqaLayout(config.numLayers, config.numKvHeads, config.headDim, 'float32', options.pageSize);
  const contextLength = config.maxPositionEmbeddings;
  // With the WASM kernel the pool lives in the kernel's memory, so attention reads pages in place.
  const { pool, region } = createPool(layout, poolPages(layout, contextLength, options.maxTotalTokens, 'reference'), options.kernel === 'wasm');
  const engine = new ReferenceEngine(config, weights, pool, { kernel: options.kernel, warn: (m) => log.warn(m) });
  return {
    engine, tokenizer, pool, region, contextLength,
    identity: {
      modelPath: modelDir,
      servedModelName: options.servedModelName ?? options.modelPath ?? 'pd-node/tiny',
      numLayers: config.numLayers,
      hiddenSize: config.hiddenSize,
      fingerprint: modelFingerprint(modelDir),
      modelShape: null,
      gpu: null,
    },
    logFields: { kernel: engine.kernel, attentionInPlace: engine.attentionInPlace },
  };
}

/** The synthetic engine: no weights; `modelDir` only provides the tokenizer. */
function syntheticSetup(): EngineSetup {
  const shape = findModelShape(options.modelShape ?? '');
  if (!shape) throw new Error(`the synthetic engine needs a model shape (--model-shape), one of ${MODEL_SHAPE_NAMES.join(', ')}; got ${JSON.stringify(options.modelShape)}`);
  const gpu = parseGpu(options.gpu);
  if (!gpu) throw new Error(`unknown GPU ${JSON.stringify(options.gpu)} (--gpu): one of ${GPU_NAMES.join(', ')}, or COUNTxNAME`);
  const tokenizer = HfTokenizer.fromDir(modelDir);
  const layout = shapeLayout(shape, options.pageSize);
  const { pool, region } = createPool(layout, poolPages(layout, shape.contextLength, options.maxTotalTokens, 'synthetic'), false);
  const outputTokenIds: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (!tokenizer.isSpecial(id)) outputTokenIds.push(id);
  const engine = new SyntheticEngine(pool, { shape, gpu, vocabSize: tokenizer.vocabSize, outputTokenIds, warn: (m) => log.warn(m) });
  const name = `synthetic/${shape.name}`;
  return {
    engine, tokenizer, pool, region, contextLength: shape.contextLength,
    identity: {
      modelPath: name,
      servedModelName: options.servedModelName ?? name,
      numLayers: shape.numLayers,
      hiddenSize: shape.hiddenSize,
      fingerprint: syntheticFingerprint(shape, modelDir),
      modelShape: shape.name,
      gpu: gpu.name,
    },
    logFields: { modelShape: shape.name, gpu: gpu.name, tokenizer: modelDir },
  };
}

interface Started {
  scheduler: Scheduler;
  transfer: TransferActorClient | null;
  region: ShmRegion | null;
  model: ModelInfo;
}

async function start(): Promise<Started> {
  const { engine, tokenizer, pool, region, contextLength, identity, logFields } = options.engine === 'synthetic' ? syntheticSetup() : referenceSetup();
  const transfer = options.role === 'colocated' ? null : await TransferActorClient.start(options.transfer, pool, options.logLevel, {
    notices,
    clusterSecret: clusterSecret && Buffer.from(clusterSecret),
  });
  const kvEndpoint = options.role === 'decode' ? await transfer!.listen(options.host) : null;
  const allocator = new KvAllocator(pool.numPages, options.pageSize);
  const scheduler = new Scheduler(
    { maxRunningRequests: options.maxRunningRequests, chunkedPrefillSize: options.chunkedPrefillSize, contextLength },
    { engine, allocator, tokenizer, sampler: new Sampler(engine.vocabSize), emit: post, log },
    pdSettings(options, transfer),
  );
  const model: ModelInfo = {
    ...identity,
    vocabSize: engine.vocabSize,
    contextLength,
    kvLayout: { ...engine.layout },
    eosTokenIds: [...tokenizer.eosTokenIds],
    engine: engine.name,
    kvEndpoint,
  };
  log.info({ modelDir, engine: engine.name, pages: pool.numPages, pageSize: options.pageSize, poolBytes: pool.numPages * pool.pageBytes, ...logFields, kvEndpoint }, 'scheduler ready');
  return { scheduler, transfer, region, model };
}

function serve({ scheduler, transfer, region }: Started): void {
  let stepQueued = false;
  const kick = (): void => {
    if (stepQueued || !scheduler.hasWork()) return;
    stepQueued = true;
    setImmediate(() => {
      stepQueued = false;
      scheduler.step();
      kick();
    });
  };
  let stopped = false;
  const sweeper = setInterval(() => {
    if (scheduler.openRooms() === 0) return;
    for (let queued = receiveMessageOnPort(port!); queued && !stopped; queued = receiveMessageOnPort(port!)) handle(queued.message as SchedulerInbound);
    if (stopped) return;
    scheduler.sweep();
    kick();
  }, SWEEP_MS);

  const handle = (msg: SchedulerInbound): void => {
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
      case 'kv_target':
        scheduler.kvTarget(msg.room, { peerId: msg.peerId, endpoint: msg.endpoint, pageIds: msg.pageIds, writer: msg.writer });
        break;
      case 'kv_arrived':
        scheduler.kvArrived(msg.room, msg.first);
        break;
      case 'room_failed':
        scheduler.roomFailed(msg.room, msg.message, msg.peerId);
        break;
      case 'peer_lost':
        scheduler.peerLost(msg.peerId, msg.message);
        break;
      case 'shutdown':
        stopped = true;
        clearInterval(sweeper);
        void (transfer?.close() ?? Promise.resolve()).finally(() => {
          region?.unlink();
          port!.close();
        });
        return;
    }
    kick();
  };
  port!.on('message', handle);
}

start().then(
  (started) => {
    serve(started);
    post({ type: 'ready', model: started.model });
  },
  (err: Error) => {
    post({ type: 'init_failed', message: err.message });
    process.exit(1);
  },
);
