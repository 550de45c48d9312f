/**
 * Worker-thread entry of the scheduler actor: owns the engine, the KV pool, its allocator and the
 * tokenizer, so the main thread never runs model code. The engine is built here from its descriptor
 * (src/engine/engines.ts, or an embedder's module): load the model, place the pool (sized by
 * --max-total-tokens or the engine's default), create the engine over it. In PD mode it also starts the transfer actor
 * (a worker of its own) over the pool: the receiver on a decode node, the sender on a prefill node.
 * Steps run back to back while there is work (setImmediate between steps lets aborts and new
 * requests in); when idle the thread sleeps on its message port, waking every 100 ms only while PD
 * rooms wait on a peer (their timeouts). Before judging those timeouts the sweep reads the messages
 * already queued: one step can outlast a room's bound (a long prompt chunk on a loaded host), and
 * after it timers run before queued messages, so a page list or notice that arrived in time would
 * otherwise count as missing.
 *
 * A fatal error (start-up failed, or an uncaught exception later: a lost `--tp` rank, a bug) ends
 * the worker in one way: the main thread is told at once ('init_failed' / 'crashed'), nothing more
 * is served, and the transfer actor is closed (bounded by TRANSFER_CLOSE_MS) before the thread
 * exits. Only the transfer actor's own close releases what it holds in this process (its mapping of
 * the pool, peers' pools it mapped, their writer locks); terminated with this worker it would leave
 * them to the process, and a process that embeds nodes outlives its nodes. A decode peer would also
 * keep seeing a writer lock held, and never reclaim the pages it granted to this node.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { LoadedEngine } from '../../src/engine/descriptor.js';
import type { Engine } from '../../src/engine/engine.js';
import { checkEngineConfig, resolveEngine } from '../../src/engine/engines.js';
import type { KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { createLogger } from '../../src/log/logger.js';
import { Sampler } from '../../src/sampling/sampler.js';
import type { ShmRegion } from '../../native/shm-region.js';
import { transferBackend } from '../../src/transfer/backends.js';
import { TransferActorClient } from '../transfer/transfer-actor-client.js';
import { withTimeout } from '../../src/util/timeout.js';
import { KvAllocator } from '../../src/kv/kv-allocator.js';
import { defaultTokenizerDir } from '../../src/model/model-files.js';
import type { ModelInfo, SchedulerInbound, SchedulerOutbound } from './protocol.js';
import { contextLengthOf } from './context-length.js';
import { hostMemoryBytes, poolSize } from './pool-size.js';
import type { SchedulerOptions } from './scheduler-options.js';
import { Scheduler, type PdSettings } from './scheduler.js';
import type { SchedulerWorkerData } from './worker-data.js';

const port = parentPort;
if (!port) throw new Error('scheduler-worker must run in a worker thread');
const { options, modelDir, notices, clusterSecret } = workerData as SchedulerWorkerData;
const log = createLogger(options.logLevel).child({ actor: 'scheduler', role: options.role });
const post = (msg: SchedulerOutbound): void => port.postMessage(msg);
const SWEEP_MS = 100;
/** Bound on closing the transfer actor after a fatal error. */
const TRANSFER_CLOSE_MS = 5_000;
/** Set once, as soon as it runs: what a fatal error must close. */
let transfer: TransferActorClient | null = null;
/** Shut down, or ended by a fatal error: serve nothing more. */
let stopped = false;

/**
 * The pool: on a decode node, where its transfer backend places it if it does (shm: a shared-memory
 * object prefill maps; the main thread releases it by `region.handle` once this worker has exited),
 * else in the engine's own memory when it has one (the reference engine's WASM kernel reads it in
 * place), else a SharedArrayBuffer.
 */
function backendPlacesPool(): boolean {
  return options.role === 'decode' && transferBackend(options.transfer.backend).createPool !== undefined;
}

function createPool(layout: KvLayout, pages: number, engineMemory: LoadedEngine['poolMemory']): { pool: KvPool; region: ShmRegion | null } {
  const placed = backendPlacesPool() ? transferBackend(options.transfer.backend).createPool!(layout, pages) : undefined;
  return placed ?? { pool: engineMemory?.(layout, pages) ?? new KvPool(layout, pages), region: null };
}

/** The pool's pages from the sizing flags and the engine's default (pool-size.ts); a bound that cut the pool is logged once. */
function pages(loaded: LoadedEngine): number {
  const { pages, note } = poolSize(loaded.layout, {
    defaultTokens: loaded.defaultPoolTokens,
    maxTotalTokens: options.maxTotalTokens,
    memory: options.memFractionStatic === null ? null : { fraction: options.memFractionStatic, hostBytes: hostMemoryBytes(), weightBytes: loaded.weightBytes },
    // The engine's pool memory bounds the pool only when the pool lives there.
    maxPoolBytes: backendPlacesPool() ? null : (loaded.maxPoolBytes ?? null),
  });
  if (note !== null) log.warn(note);
  return pages;
}

function pdSettings(o: SchedulerOptions, transfer: TransferActorClient | null): PdSettings | undefined {
  const common = { bootstrapTimeoutMs: o.bootstrapTimeoutSecs * 1000, transferTimeoutMs: o.transferTimeoutSecs * 1000, maxRooms: 4 * o.maxRunningRequests + 64 };
  // Half the rooms per prefill peer: one that never delivers cannot hold them all (the rest of the
  // cluster keeps the other half), while one healthy peer still gets twice the running batch.
  if (o.role === 'decode') return { role: 'decode', grants: transfer!, maxRoomsPerPeer: 2 * o.maxRunningRequests + 32, ...common };
  // Unclaimed rooms hold no pages, only a tokenized prompt; a few times a decode node's own bound
  // keeps a router's burst from evicting its own rooms before decode claims them.
  if (o.role === 'prefill') return { role: 'prefill', writer: transfer!, ...common, maxUnclaimedRooms: 4 * common.maxRooms };
  return undefined;
}

interface Started {
  scheduler: Scheduler;
  engine: Engine;
  model: ModelInfo;
}

async function start(): Promise<Started> {
  const descriptor = await resolveEngine(options.engine);
  const engineConfig = checkEngineConfig(descriptor, options.engine.config ?? {});
  const loaded = await descriptor.load(engineConfig, { modelDir, modelPath: options.modelPath, tokenizerDir: options.tokenizerPath ?? defaultTokenizerDir(modelDir), pageSize: options.pageSize, tpSize: options.tpSize, warn: (m) => log.warn(m) });
  const { tokenizer, identity } = loaded;
  const contextLength = contextLengthOf(loaded.contextLength, options.contextLength);
  const { pool, region } = createPool(loaded.layout, pages(loaded), loaded.poolMemory);
  // First, so the main thread can release the region whatever happens to this worker from here on.
  if (region) post({ type: 'pool_placed', region: region.handle });
  const { engine, logFields } = loaded.create(pool);
  transfer = options.role === 'colocated' ? null : await TransferActorClient.start(options.transfer, pool, options.logLevel, {
    notices,
    clusterSecret: clusterSecret && Buffer.from(clusterSecret),
  });
  const kvEndpoint = options.role === 'decode' ? await transfer!.listen(options.host) : null;
  const allocator = new KvAllocator(pool.numPages, options.pageSize);
  const scheduler = new Scheduler(
    {
      maxRunningRequests: options.maxRunningRequests,
      // Both bound the prompt tokens of one step here: each step's prefill budget is shared by its sequences.
      chunkedPrefillSize: Math.min(options.chunkedPrefillSize, options.maxPrefillTokens),
      contextLength,
      schedulePolicy: options.schedulePolicy,
      randomSeed: options.randomSeed,
    },
    { engine, allocator, tokenizer, sampler: new Sampler(engine.vocabSize), emit: post, log },
    pdSettings(options, transfer),
  );
  const model: ModelInfo = {
    ...identity,
    servedModelName: options.servedModelName ?? identity.servedModelName,
    vocabSize: engine.vocabSize,
    contextLength,
    kvLayout: { ...engine.layout },
    eosTokenIds: [...tokenizer.eosTokenIds],
    engine: engine.name,
    engineConfig,
    kvEndpoint,
  };
  log.info({ modelDir, engine: engine.name, pages: pool.numPages, pageSize: options.pageSize, poolBytes: pool.numPages * pool.pageBytes, ...logFields, kvEndpoint }, 'scheduler ready');
  return { scheduler, engine, model };
}

function serve({ scheduler, engine }: Started): void {
  let stepQueued = false;
  const kick = (): void => {
    if (stepQueued || stopped || !scheduler.hasWork()) return;
    stepQueued = true;
    setImmediate(() => {
      stepQueued = false;
      scheduler.step();
      kick();
    });
  };
  const sweeper = setInterval(() => {
    if (stopped) return clearInterval(sweeper);
    if (scheduler.openRooms() === 0) return;
    for (let queued = receiveMessageOnPort(port!); queued && !stopped; queued = receiveMessageOnPort(port!)) handle(queued.message as SchedulerInbound);
    if (stopped) return;
    scheduler.sweep();
    kick();
  }, SWEEP_MS);

  const handle = (msg: SchedulerInbound): void => {
    if (stopped) return;
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
        scheduler.roomFailed(msg.room, msg.message, msg.peerId, msg.retryAfterSecs);
        break;
      case 'peer_lost':
        scheduler.peerLost(msg.peerId, msg.message);
        break;
      case 'shutdown':
        stopped = true;
        clearInterval(sweeper);
        engine.close?.();
        void (transfer?.close() ?? Promise.resolve()).finally(() => port!.close());
        return;
    }
    kick();
  };
  port!.on('message', handle);
}

/** Ends the worker after a fatal error (see the header): tells the main thread, closes the transfer actor, exits. */
function end(type: 'init_failed' | 'crashed', err: Error): void {
  if (stopped) return;
  stopped = true;
  post({ type, message: err.message });
  const closing = transfer ? withTimeout(transfer.close(), TRANSFER_CLOSE_MS, 'transfer actor close') : Promise.resolve();
  void closing.catch((e: Error) => log.error({ err: e.message }, 'could not close the transfer actor after a fatal error')).finally(() => process.exit(1));
}

// Later uncaught exceptions (while ending, or shutting down) are the dying scheduler's: the first one is the reason.
process.on('uncaughtException', (err) => end('crashed', err));
start().then(
  (started) => {
    serve(started);
    post({ type: 'ready', model: started.model });
  },
  (err: Error) => end('init_failed', err),
);
