/**
 * The worker threads of `--tp N` (ranks 1..N-1; the calling thread is rank 0) and the step protocol
 * between them, all through the kernels' shared WebAssembly memory: no messages once started.
 *
 * Decisions:
 * - Plain worker_threads, not piscina: the ranks are not a task pool but N threads in lock step
 *   inside one synchronous `forward` call (the scheduler calls it synchronously), which a barrier on
 *   shared memory gives and a task queue's promises cannot.
 * - Start-up is synchronous too: the constructor blocks (bounded) until every rank has built its
 *   shard, so a bad model or a worker that cannot start fails the engine's construction.
 * - Workers are unref'd: they end with the thread that made them (the scheduler's), or on `close`.
 * - Step parameters (block address and step shape) go into the control block's slots before the
 *   start barrier; Atomics give the ordering every rank needs to read them and the step descriptor.
 */
import { Worker } from 'node:worker_threads';
import type { KvLayout } from '../../../kv/layout.js';
import type { LlamaConfig } from '../../../model/types.js';
import type { WasmMemory } from '../kernels/wasm-api.js';
import type { WeightDtype } from '../kernels/weight-storage.js';
import type { ModelDims, StepShape } from '../workspace.js';
import { StepBarrier } from './step-barrier.js';

/** How long start-up may take: each worker loads the engine's modules and compiles the kernel module (~0.1 s idle; seconds on a loaded host). */
export const TP_START_TIMEOUT_MS = 60_000;
/**
 * How long a rank may take between two barriers before the step fails (a worker died or hung): one
 * phase is one layer's matmul over a prefill chunk, well under a second for models that fit wasm32
 * memory; two minutes leaves room for a host that is heavily overloaded.
 */
export const TP_PHASE_TIMEOUT_MS = 120_000;

/** A weight matrix in kernel memory (packed, as the WASM kernel stores them): byte address, value count, storage dtype. */
export type MatrixRef = readonly [address: number, length: number, dtype: WeightDtype];

export interface RankWeights {
  layers: { inputNorm: Float32Array; postNorm: Float32Array; q: MatrixRef; k: MatrixRef; v: MatrixRef; o: MatrixRef; gate: MatrixRef; up: MatrixRef; down: MatrixRef }[];
  finalNorm: Float32Array;
  lmHead: MatrixRef;
}

/** Everything a rank's thread needs (structured-cloned; `memory` and `poolBuffer` are shared). */
export interface TpWorkerData {
  memory: WasmMemory;
  controlAddress: number;
  config: LlamaConfig;
  dims: ModelDims;
  rank: number;
  /** The kernel of rank 0 (the native one only where it loaded there). */
  kernel: 'native' | 'wasm';
  weights: RankWeights;
  pool: { layout: KvLayout; numPages: number; pageBytes: number; inArena: boolean; buffer: SharedArrayBuffer | null };
}

const WORKER_URL = new URL('./tp-worker.js', import.meta.url);

/** Param slots (StepBarrier.params). */
const P = { ADDRESS: 0, FLOATS: 1, TOKENS: 2, LOGIT_ROWS: 3, MAX_PAGES: 4, MAX_POSITIONS: 5, GATHER: 6, DESC_INTS: 7 } as const;

export function writeStepParams(params: Int32Array, block: Float32Array, s: StepShape): void {
  params[P.ADDRESS] = block.byteOffset;
  params[P.FLOATS] = block.length;
  params[P.TOKENS] = s.tokens;
  params[P.LOGIT_ROWS] = s.logitRows;
  params[P.MAX_PAGES] = s.maxPages;
  params[P.MAX_POSITIONS] = s.maxPositions;
  params[P.GATHER] = s.gather ? 1 : 0;
  params[P.DESC_INTS] = s.descInts;
}

/** The step block's address, length and shape as rank 0 published them. */
export function readStepParams(params: Int32Array): { address: number; floats: number; shape: StepShape } {
  return {
    address: params[P.ADDRESS] >>> 0, // a wasm32 address (up to 4 GiB) stored in an int32 slot
    floats: params[P.FLOATS],
    shape: {
      tokens: params[P.TOKENS], logitRows: params[P.LOGIT_ROWS], maxPages: params[P.MAX_PAGES], maxPositions: params[P.MAX_POSITIONS],
      gather: params[P.GATHER] === 1, descInts: params[P.DESC_INTS],
    },
  };
}

export class TpGroup {
  readonly barrier: StepBarrier;
  private readonly workers: Worker[];

  /**
   * Starts ranks 1..tp-1 and waits until each has built its shard. `controlAddress` is CONTROL_BYTES
   * (step-barrier.ts) of zeroed kernel memory; `data(rank)` describes a rank's weights.
   */
  constructor(memory: WasmMemory, controlAddress: number, tp: number, data: (rank: number) => Omit<TpWorkerData, 'memory' | 'controlAddress'>) {
    this.barrier = new StepBarrier(memory.buffer, controlAddress, tp, TP_PHASE_TIMEOUT_MS);
    this.workers = [];
    for (let rank = 1; rank < tp; rank++) {
      const workerData: TpWorkerData = { memory, controlAddress, ...data(rank) };
      const worker = new Worker(WORKER_URL, { workerData, name: `tp rank ${rank}` });
      worker.unref();
      this.workers.push(worker);
    }
    try {
      this.barrier.arriveWithin(TP_START_TIMEOUT_MS);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Publishes the step and releases the other ranks into it. */
  begin(block: Float32Array, shape: StepShape): void {
    writeStepParams(this.barrier.params, block, shape);
    this.barrier.arrive();
  }

  close(): void {
    this.barrier.stop();
    for (const w of this.workers) void w.terminate();
  }
}
