/**
 * What a run is aimed at: a deployment's entry URL, its nodes (for the queue-depth samples and the
 * decode nodes' transfer metrics) and the model it serves. Either an existing deployment (`--url`)
 * or one launched here as real processes (`--launch pd|colocated`), both described the same way:
 * - /get_server_info with a `router` field is a PD router, which lists its nodes; anything else is
 *   a single node (its own role).
 * - /get_model_info gives the vocabulary size (random prompts), the context length (checked
 *   against the asked lengths) and the model directory (tokenizer for ShareGPT files).
 * Launching reuses the CLI's process helpers: `startPdDeployment` (router + prefill + decode, as the
 * demo) and `startChildNode` for a colocated node. Every node gets the same `nodeArgs`.
 */
import { startChildNode, stopChildNode } from '../../src/cli/child-node.js';
import { logsOf, startPdDeployment } from '../../src/cli/pd-deployment.js';
import type { DeploymentNode } from './queue-sampler.js';

export type LaunchKind = 'pd' | 'colocated';

export interface ModelFacts {
  vocabSize: number;
  contextLength: number;
  modelPath: string;
}

export interface BenchTarget {
  /** `pd`, `colocated`, or `target` for an existing deployment. */
  label: string;
  url: string;
  kind: 'router' | 'node';
  nodes: DeploymentNode[];
  model: ModelFacts;
  /** Flags every launched node got; null for an existing deployment. */
  nodeArgs: readonly string[] | null;
  close(): Promise<void>;
  /** Launched processes' logs (for a failure report); empty for an existing deployment. */
  logs(): string;
}

const INFO_TIMEOUT_MS = 10_000;

async function getJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(INFO_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as Record<string, unknown>;
}

async function describeTarget(url: string, label: string, nodeArgs: readonly string[] | null, close: () => Promise<void>, logs: () => string): Promise<BenchTarget> {
  const info = await getJson(`${url}/get_server_info`);
  const router = info.router as { nodes?: { role: string; url: string; up: boolean }[] } | undefined;
  const nodes: DeploymentNode[] = router ? (router.nodes ?? []).filter((n) => n.up).map((n) => ({ role: n.role, url: n.url })) : [{ role: String(info.role ?? 'colocated'), url }];
  const m = await getJson(`${url}/get_model_info`);
  if (typeof m.vocab_size !== 'number' || typeof m.context_length !== 'number') throw new Error(`${url}/get_model_info has no vocab_size and context_length`);
  const model = { vocabSize: m.vocab_size, contextLength: m.context_length, modelPath: String(m.model_path ?? '') };
  return { label, url, kind: router ? 'router' : 'node', nodes, model, nodeArgs, close, logs };
}

export function existingTarget(url: string): Promise<BenchTarget> {
  return describeTarget(url, 'target', null, async () => {}, () => '');
}

export async function launchTarget(kind: LaunchKind, nodeArgs: readonly string[], timeoutMs: number): Promise<BenchTarget> {
  if (kind === 'pd') {
    const pd = await startPdDeployment(nodeArgs, timeoutMs);
    const logs = (): string => pd.processes.map(logsOf).join('');
    return describeOrClose(pd.router.url, kind, nodeArgs, () => pd.close(), logs);
  }
  const node = await startChildNode(['--role', 'colocated', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...nodeArgs], timeoutMs);
  return describeOrClose(node.url, kind, nodeArgs, () => stopChildNode(node), () => logsOf(node));
}

async function describeOrClose(url: string, label: string, nodeArgs: readonly string[], close: () => Promise<void>, logs: () => string): Promise<BenchTarget> {
  try {
    return await describeTarget(url, label, nodeArgs, close, logs);
  } catch (err) {
    await close();
    throw err;
  }
}
