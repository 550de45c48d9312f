/**
 * `pd-bench serve` from a validated config: builds the prompts and arrival times once (from the
 * seed and the first target's model), then for each target in turn (PD, then colocated when
 * comparing; never both at once, so each has the machine to itself) starts or describes it, runs
 * warm-up and load, and stops what it started. Then the summary table goes to stdout and the JSON
 * and HTML files are written. A launch failure prints the launched processes' logs; a failed
 * request is a figure, not a failure of the bench.
 *
 * Fairness of --compare (written into the results): both deployments run on this machine with the
 * same model and the same node flags, so the colocated node has the same --chunked-prefill-size
 * budget, --max-running-requests and pool size as each PD node. PD has two engine threads (prefill
 * node, decode node) plus a router; colocated has one engine thread doing both phases.
 */
import { ensureDefaultModel, ensurePresetModel } from '../../src/model/default-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';
import { FlagError } from '../../src/cli/flag-values.js';
import { arrivalOffsetsMs } from './arrivals.js';
import { benchRun, type RunResult, type Workload } from './bench-run.js';
import { compareRuns } from './comparison.js';
import type { BenchPrompt } from './dataset.js';
import { existingTarget, launchTarget, type BenchTarget, type LaunchKind, type ModelFacts } from './deployment.js';
import { writeHtmlReport } from './html-report.js';
import { loadJsonlDataset } from './jsonl-dataset.js';
import { resultsDocument, writeJsonResults, type RunDescription } from './json-results.js';
import { mixDataset, randomDataset } from './random-dataset.js';
import type { ServeConfig } from './serve-flags.js';
import { summaryTable } from './summary-table.js';

const LAUNCH_TIMEOUT_MS = 120_000;

export async function runServe(config: ServeConfig, command: string[]): Promise<void> {
  const startedAt = new Date().toISOString();
  const starts = await targetStarts(config);
  const runs: RunResult[] = [];
  let workload: Workload | null = null;
  for (const start of starts) {
    const target = await start();
    try {
      workload ??= buildWorkload(config, target.model);
      runs.push(await benchRun(target, workload));
    } catch (err) {
      if (!(err instanceof FlagError)) process.stderr.write(`${target.logs()}\n`);
      throw err;
    } finally {
      await target.close();
    }
  }
  const comparison = runs.length === 2 ? compareRuns(runs[0].target.label, runs[0].figures, runs[1].target.label, runs[1].figures) : null;
  const description: RunDescription = {
    command,
    startedAt,
    dataset: datasetDescription(config, workload!),
    load: { numPrompts: config.numPrompts, warmup: config.warmup, requestRate: Number.isFinite(config.requestRate) ? config.requestRate : 'inf', maxConcurrency: config.maxConcurrency, sloTtftMs: config.slo.ttftMs, sloItlMs: config.slo.itlMs },
    fairness: comparison === null ? null : FAIRNESS,
  };
  process.stdout.write(`${summaryTable(runs)}\n`);
  if (config.json !== null) writeJsonResults(config.json, resultsDocument(description, runs, comparison));
  if (config.html !== null) writeHtmlReport(config.html, description, runs);
}

const FAIRNESS =
  'PD and colocated ran one after the other on this machine, with the same model, node flags, prompts and arrival times. ' +
  'PD: router + prefill node + decode node (two engine threads); colocated: one node (one engine thread) with the same chunked-prefill budget, running-request limit and pool size as each PD node.';

/** How to get each target, in run order. */
async function targetStarts(config: ServeConfig): Promise<(() => Promise<BenchTarget>)[]> {
  const t = config.target;
  if (t.kind === 'url') return [() => existingTarget(t.url)];
  // Resolved once here: the nodes then find the model cached and never generate it twice at once.
  const modelPath = t.modelPath ?? (t.preset !== null ? await ensurePresetModel(t.preset) : null);
  if (modelPath === null) await ensureDefaultModel();
  const common = [...(modelPath === null ? [] : ['--model-path', modelPath]), ...t.nodeArgs];
  const argsOf = (kind: LaunchKind): string[] => (kind === 'pd' ? ['--disaggregation-transfer-backend', t.transferBackend, ...common] : common);
  const kinds: LaunchKind[] = t.compare ? ['pd', 'colocated'] : [t.launch];
  return kinds.map((kind) => () => launchTarget(kind, argsOf(kind), LAUNCH_TIMEOUT_MS));
}

function buildWorkload(config: ServeConfig, model: ModelFacts): Workload {
  const total = config.numPrompts + config.warmup;
  const all = prompts(config, model, total);
  return {
    prompts: all.slice(0, config.numPrompts),
    warmup: all.slice(config.numPrompts),
    arrivalsMs: arrivalOffsetsMs(config.numPrompts, config.requestRate, config.seed),
    maxConcurrency: config.maxConcurrency,
    requestTimeoutMs: config.requestTimeoutMs,
    slo: config.slo,
  };
}

/** `count` prompts; the measured ones come first, so they do not depend on --warmup. */
function prompts(config: ServeConfig, model: ModelFacts, count: number): BenchPrompt[] {
  const d = config.dataset;
  if (d.name === 'jsonl') {
    const tokenizerDir = d.tokenizer ?? model.modelPath;
    const countTokens = (): ((text: string) => number) => {
      try {
        const tokenizer = HfTokenizer.fromDir(tokenizerDir);
        return (text) => tokenizer.encode(text, false).length;
      } catch (err) {
        throw new FlagError(`--dataset jsonl: counting the gpt turns' tokens needs a tokenizer (${(err as Error).message}); pass --tokenizer DIR`);
      }
    };
    try {
      return loadJsonlDataset(d.path, count, config.seed, countTokens).prompts;
    } catch (err) {
      throw err instanceof FlagError ? err : new FlagError(`--dataset-path: ${(err as Error).message}`);
    }
  }
  const specs = d.name === 'mix' ? [d.spec.short, d.spec.long] : [d.spec];
  for (const [i, s] of specs.entries()) {
    const flags = i === 0 ? '--input-len + --output-len' : '--long-input-len + --long-output-len';
    if (s.input.max + s.output.max > model.contextLength) throw new FlagError(`${flags} (${s.input.max} + ${s.output.max} tokens) exceed the model's context length, ${model.contextLength}`);
  }
  return d.name === 'mix' ? mixDataset(count, d.spec, model.vocabSize, config.seed) : randomDataset(count, d.spec, model.vocabSize, config.seed);
}

function datasetDescription(config: ServeConfig, workload: Workload): Record<string, unknown> {
  const d = config.dataset;
  const kinds: Record<string, number> = {};
  for (const p of workload.prompts) kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
  const spec = d.name === 'jsonl' ? { path: d.path } : d.spec;
  return { name: d.name, seed: config.seed, ...spec, promptsByKind: kinds };
}
