/**
 * llama.cpp as the engine benchmark's reference, through node-llama-cpp when it is installed:
 *   npm i --no-save node-llama-cpp@3.21.1
 * (not a dependency: it is large, and only this benchmark uses it). The benchmark writes the GGUF of
 * the very weights pd-node runs (src/model/gguf-writer.ts) and measures llama.cpp on it in the same
 * run, with the same prompt length, decode contexts and steps, on the CPU with a given thread count.
 *
 * Decisions: loaded by dynamic import, so pd-node neither needs nor type-checks against it (the few
 * calls used are typed here); prefill is `evaluateWithoutGeneratingNewTokens` of the whole prompt in
 * one batch; decode steps are greedy tokens from `evaluate`, the 8 sequences of batch 8 running
 * concurrently in one context, which node-llama-cpp batches into one llama_decode per step.
 */
import { performance } from 'node:perf_hooks';
import { median } from './stats.js';

/** The version measured; newer releases may not install on this host (Node 20). */
export const LLAMA_CPP_PACKAGE = 'node-llama-cpp@3.21.1';

interface Sequence {
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  evaluate(tokens: number[], options?: { temperature?: number }): AsyncGenerator<number, void, void | number | number[]>;
}
interface Context {
  getSequence(): Sequence;
  dispose(): Promise<void>;
}
interface Model {
  createContext(o: { contextSize: number; batchSize: number; sequences: number; threads: number }): Promise<Context>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<Model>;
  dispose(): Promise<void>;
}
interface NodeLlamaCpp {
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

export interface LlamaCppRun {
  prompt: number[];
  /** Timed prefills of `prompt`, each in a fresh context; the median is reported. */
  prefillRuns: number;
  /** Contexts of the decode sequences (8 of them, or as many as given). */
  contexts: number[][];
  steps: number;
  threads: number;
}

export interface LlamaCppFigures {
  prefillTokensPerSecond: number;
  decode: { batch: number; tokensPerSecond: number }[];
}

async function decode(seqs: Sequence[], contexts: number[][], steps: number): Promise<number> {
  await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(contexts[i].slice(0, -1))));
  const gens = seqs.map((s, i) => s.evaluate(contexts[i].slice(-1), { temperature: 0 }));
  await Promise.all(gens.map((g) => g.next())); // warm-up step, untimed
  const t0 = performance.now();
  await Promise.all(gens.map(async (g) => {
    for (let i = 0; i < steps; i++) await g.next();
  }));
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(gens.map((g) => g.return()));
  return (seqs.length * steps) / seconds;
}

export async function benchLlamaCpp(lib: NodeLlamaCpp, modelPath: string, run: LlamaCppRun): Promise<LlamaCppFigures> {
  const llama = await lib.getLlama({ gpu: false, logLevel: 'error', build: 'never' });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  try {
    const size = Math.max(run.prompt.length, ...run.contexts.map((c) => c.length)) + run.steps + 8;
    const one = await model.createContext({ contextSize: size, batchSize: run.prompt.length, sequences: 1, threads: run.threads });
    const seq = one.getSequence();
    await seq.evaluateWithoutGeneratingNewTokens(run.prompt.slice(0, 32)); // warm-up
    await one.dispose();
    const prefillSeconds: number[] = [];
    for (let i = 0; i < run.prefillRuns; i++) {
      const fresh = await model.createContext({ contextSize: size, batchSize: run.prompt.length, sequences: 1, threads: run.threads });
      const t0 = performance.now();
      await fresh.getSequence().evaluateWithoutGeneratingNewTokens(run.prompt);
      prefillSeconds.push((performance.now() - t0) / 1000);
      await fresh.dispose();
    }
    const out: LlamaCppFigures = { prefillTokensPerSecond: run.prompt.length / median(prefillSeconds), decode: [] };
    for (const batch of [1, 8]) {
      const ctx = await model.createContext({ contextSize: size * batch, batchSize: 512, sequences: batch, threads: run.threads });
      const seqs = Array.from({ length: batch }, () => ctx.getSequence());
      out.decode.push({ batch, tokensPerSecond: await decode(seqs, run.contexts, run.steps) });
      await ctx.dispose();
    }
    return out;
  } finally {
    await model.dispose();
    await llama.dispose();
  }
}
