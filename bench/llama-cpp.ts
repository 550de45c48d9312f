/**
 * llama.cpp as the engine benchmark's reference, through node-llama-cpp when it is installed:
 *   npm i --no-save node-llama-cpp@3.21.1
 * (not a dependency: it is large, and only this benchmark uses it). The benchmark writes the GGUF of
 * the very weights pd-node runs (src/model/gguf-writer.ts) and measures llama.cpp on it in the same
 * run, with the same prompt length, decode contexts and steps, on the CPU with a given thread count.
 * The model and its contexts are made once and measured phase by phase, so the benchmark can
 * alternate them with pd-node's engine in rounds (rounds.ts).
 *
 * Decisions: loaded by dynamic import, so pd-node neither needs nor type-checks against it (the few
 * calls used are typed here); prefill is `evaluateWithoutGeneratingNewTokens` of the whole prompt in
 * one batch; decode steps are greedy tokens from `evaluate`, the 8 sequences of batch 8 running
 * concurrently in one context, which node-llama-cpp batches into one llama_decode per step.
 */
import { performance } from 'node:perf_hooks';

/** The version measured; newer releases may not install on this host (Node 20). */
export const LLAMA_CPP_PACKAGE = 'node-llama-cpp@3.21.1';

interface Sequence {
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options?: { temperature?: number }): AsyncGenerator<number, void, void | number | number[]>;
  clearHistory(): Promise<void>;
}
interface Context {
  getSequence(): Sequence;
  dispose(): Promise<void>;
}
export interface Model {
  createContext(o: { contextSize: number; batchSize: number; sequences: number; threads: number }): Promise<Context>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<Model>;
  dispose(): Promise<void>;
}
export interface NodeLlamaCpp {
  getLlama(o: { gpu: false; logLevel?: string; build?: string }): Promise<Llama>;
}

/** node-llama-cpp if installed, else null. */
export async function loadLlamaCpp(): Promise<NodeLlamaCpp | null> {
  const name = 'node-llama-cpp';
  try {
    return (await import(name)) as NodeLlamaCpp;
  } catch {
    return null;
  }
}

export interface LlamaCppShape {
  /** Tokens of the prefill prompt (the prefill context's batch size). */
  promptTokens: number;
  /** Tokens of each decode sequence's context. */
  contextTokens: number;
  /** Timed decode steps. */
  steps: number;
  /** Decode batch sizes, each with its own context of that many sequences. */
  batches: readonly number[];
  threads: number;
}

/** llama.cpp on the CPU with the models it loaded; dispose() frees every model, then llama.cpp. */
export class LlamaCpp {
  private readonly models: Model[] = [];

  private constructor(private readonly llama: Llama) {}

  static async open(lib: NodeLlamaCpp): Promise<LlamaCpp> {
    return new LlamaCpp(await lib.getLlama({ gpu: false, logLevel: 'error', build: 'never' }));
  }

  /** The model of a GGUF file, loaded once for every thread count (its contexts choose the threads). */
  async loadModel(modelPath: string): Promise<Model> {
    const model = await this.llama.loadModel({ modelPath, gpuLayers: 0 });
    this.models.push(model);
    return model;
  }

  async dispose(): Promise<void> {
    for (const m of this.models) await m.dispose();
    await this.llama.dispose();
  }
}

/**
 * llama.cpp at one thread count, with its contexts made once (one for prefill, one per decode batch
 * size) and reused by every round: each measurement starts by clearing the sequences' history, so a
 * round sees what a fresh context would (no prefix reuse) without allocating a context per round.
 */
export class LlamaCppRunner {
  private constructor(
    private readonly shape: LlamaCppShape,
    private readonly prefillSequence: Sequence,
    private readonly decodeSequences: Map<number, Sequence[]>,
    private readonly contexts: Context[],
  ) {}

  /** The contexts for `shape`, warmed up by an untimed prefill of `warmup`, so the first timed prefill does not pay for first use. */
  static async open(model: Model, shape: LlamaCppShape, warmup: number[]): Promise<LlamaCppRunner> {
    const size = Math.max(shape.promptTokens, shape.contextTokens) + shape.steps + 8;
    const contexts: Context[] = [];
    try {
      const one = await model.createContext({ contextSize: size, batchSize: shape.promptTokens, sequences: 1, threads: shape.threads });
      contexts.push(one);
      const decodeSequences = new Map<number, Sequence[]>();
      for (const batch of shape.batches) {
        const ctx = await model.createContext({ contextSize: size * batch, batchSize: 512, sequences: batch, threads: shape.threads });
        contexts.push(ctx);
        decodeSequences.set(batch, Array.from({ length: batch }, () => ctx.getSequence()));
      }
      const runner = new LlamaCppRunner(shape, one.getSequence(), decodeSequences, contexts);
      await runner.prefillSequence.evaluateWithoutGeneratingNewTokens(warmup);
      return runner;
    } catch (err) {
      for (const c of contexts) await c.dispose();
      throw err;
    }
  }

  /** Seconds of `runs` prefills of `prompt`, each from an empty history; the median is the caller's. */
  async prefillSeconds(prompt: number[], runs: number): Promise<number[]> {
    const seconds: number[] = [];
    for (let i = 0; i < runs; i++) {
      await this.prefillSequence.clearHistory();
      const t0 = performance.now();
      await this.prefillSequence.evaluateWithoutGeneratingNewTokens(prompt);
      seconds.push((performance.now() - t0) / 1000);
    }
    return seconds;
  }

  /**
   * Decode tok/s at batch `contexts.length`: the contexts prefilled untimed, one untimed step, then
   * `steps` greedy steps of every sequence at once (node-llama-cpp batches them into one llama_decode).
   */
  async decodeTokensPerSecond(contexts: number[][]): Promise<number> {
    const seqs = this.decodeSequences.get(contexts.length);
    if (!seqs) throw new Error(`LlamaCppRunner: no decode context for batch ${contexts.length}`);
    await Promise.all(seqs.map((s) => s.clearHistory()));
    await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(contexts[i].slice(0, -1))));
    const gens = seqs.map((s, i) => s.evaluate(contexts[i].slice(-1), { temperature: 0 }));
    await Promise.all(gens.map((g) => g.next())); // warm-up step, untimed
    const steps = this.shape.steps;
    const t0 = performance.now();
    await Promise.all(gens.map(async (g) => {
      for (let i = 0; i < steps; i++) await g.next();
    }));
    const seconds = (performance.now() - t0) / 1000;
    await Promise.all(gens.map((g) => g.return()));
    return (seqs.length * steps) / seconds;
  }

  async dispose(): Promise<void> {
    for (const c of this.contexts) await c.dispose();
  }
}
