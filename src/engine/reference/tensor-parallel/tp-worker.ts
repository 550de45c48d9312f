/**
 * Worker-thread entry of one `--tp` rank (1..N-1): attaches to the kernels' shared memory, builds its
 * shard over the weight rows rank 0 placed there, signals ready at the first barrier, then runs each
 * step rank 0 starts until told to stop. Any error is reported through the barrier, so rank 0 throws
 * it from `forward` instead of waiting; so is an exit that skips the catch (`process.exit` inside this
 * thread, from any code it runs), through the thread's 'exit' event, which runs before it ends.
 */
import { workerData } from 'node:worker_threads';
import { WasmArena } from '../kernels/wasm-arena.js';
import { NativeKernels } from '../kernels/native-kernels.js';
import { WasmKernels } from '../kernels/wasm-kernels.js';
import type { WeightMatrix } from '../kernels/weight-storage.js';
import { Shard, type ShardWeights } from '../shard.js';
import { decodeStep } from '../step-plan.js';
import { carve } from '../workspace.js';
import { StepBarrier } from './step-barrier.js';
import { readStepParams, TP_PHASE_TIMEOUT_MS, type MatrixRef, type TpWorkerData } from './tp-group.js';
import { rankSlice } from './tp-plan.js';

const data = workerData as TpWorkerData;
const { config, dims, rank } = data;
const barrier = new StepBarrier(data.memory.buffer, data.controlAddress, dims.tp, TP_PHASE_TIMEOUT_MS);
let stopped = false;
process.on('exit', (code) => {
  if (!stopped) barrier.fail(`rank ${rank} exited (code ${code}) in the middle of its work`);
});

function run(): void {
  const arena = new WasmArena(data.memory);
  const kernels = data.kernel === 'native' ? new NativeKernels(arena) : new WasmKernels(arena);
  const view = ([address, length, dtype]: MatrixRef): WeightMatrix => ({
    dtype,
    packed: true,
    data: dtype === 'f32' ? new Float32Array(arena.buffer(), address, length) : new Uint16Array(arena.buffer(), address, length),
  });
  const weights: ShardWeights = {
    layers: data.weights.layers.map((l) => ({
      inputNorm: l.inputNorm, postNorm: l.postNorm,
      q: view(l.q), k: view(l.k), v: view(l.v), o: view(l.o), gate: view(l.gate), up: view(l.up), down: view(l.down),
    })),
    finalNorm: data.weights.finalNorm,
    lmHead: view(data.weights.lmHead),
  };
  const p = data.pool;
  const poolFloats = (p.numPages * p.pageBytes) / 4;
  const kv = p.inArena ? new Float32Array(arena.buffer(), 0, poolFloats) : new Float32Array(p.buffer as SharedArrayBuffer, 0, poolFloats);
  const shard = new Shard(config, rankSlice(config, dims.tp, rank), kernels, weights, { layout: p.layout, kv, pageFloats: p.pageBytes / 4, inPlace: p.inArena }, () => barrier.arrive());
  barrier.arrive(); // ready
  while (barrier.awaitStep()) {
    const { address, floats, shape } = readStepParams(barrier.params);
    const b = carve(new Float32Array(arena.buffer(), address, floats), dims, shape, rank);
    shard.run(decodeStep(b.desc), b);
  }
  stopped = true;
}

try {
  run();
} catch (err) {
  barrier.fail(`rank ${rank}: ${(err as Error).stack ?? String(err)}`);
}
