/**
 * PD transfer figures on one machine: for each backend, a router (hosting the registry), a prefill
 * node and a decode node as separate processes, plus a colocated node, all on the same model.
 * A multi-page prompt is sent `--runs` times; reported per backend:
 * - KV bytes per room, writes (coalesced runs) per room, GB/s of the writes (bytes / time the
 *   writes took), transfer time per room (first write issued to last byte landed, overlapping compute),
 * - exposed transfer time (end of prefill to last byte landed: what decode waits for), p50,
 * - time to first token through the router vs. the colocated node (streamed, p50), and the ratio.
 * Transfer figures come from the decode node's Prometheus metrics (per-room sums / counts).
 * Backends come from src/transfer/backends.ts (`--backend`, as pd-bench transfer takes it: auto runs
 * every one that can run here).
 *
 *   node dist/bench/pd-transfer.js [--backend auto|tcp,shm,...] [--preset tiny|small] [--prompt-tokens N] [--runs N] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startChildNode, stopChildNode, type ChildNode } from '../src/cli/child-node.js';
import { startPdDeployment } from '../src/cli/pd-deployment.js';
import { parseMetrics, sumOf } from './serve/prometheus-text.js';
import { ensurePresetModel } from '../src/model/default-model.js';
import { resolveBackends } from './transfer-backends.js';
import { median } from './stats.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    preset: { type: 'string', default: 'tiny' },
    'prompt-tokens': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '10' },
    json: { type: 'string' },
  },
});
const preset = values.preset === 'small' ? 'small' : 'tiny';
const promptTokens = Number(values['prompt-tokens']);
const runs = Number(values.runs);
const backends = await resolveBackends(values.backend!, 'pd-transfer').catch((err: Error) => {
  console.error(`pd-transfer: ${err.message}`);
  process.exit(2);
});

async function ttftMs(url: string, inputIds: number[]): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/generate`, {
    method: 'POST',
    body: JSON.stringify({ input_ids: inputIds, stream: true, sampling_params: { temperature: 0, max_new_tokens: 2, ignore_eos: true } }),
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  await reader.read();
  const t = performance.now() - t0;
  while (!(await reader.read()).done);
  return t;
}

async function measure(backend: string, modelPath: string, colocated: ChildNode): Promise<Record<string, number | string>> {
  const deployment = await startPdDeployment(['--model-path', modelPath, '--disaggregation-transfer-backend', backend, '--max-total-tokens', String(promptTokens * 4)], 60_000);
  const { router, decode } = deployment;
  try {
    const ids = (i: number): number[] => Array.from({ length: promptTokens }, (_, j) => 3 + ((i * 7 + j * 13) % 250));
    await ttftMs(router.url, ids(999)); // warm-up (connections, JIT)
    const before = parseMetrics(await (await fetch(`${decode.url}/metrics`)).text());
    const pd: number[] = [];
    const local: number[] = [];
    for (let i = 0; i < runs; i++) {
      pd.push(await ttftMs(router.url, ids(i)));
      local.push(await ttftMs(colocated.url, ids(i)));
    }
    const after = parseMetrics(await (await fetch(`${decode.url}/metrics`)).text());
    const delta = (name: string): number => (sumOf(after, name) ?? NaN) - (sumOf(before, name) ?? 0);
    const rooms = delta('pd_node_kv_transfer_rooms_total');
    const bytes = delta('pd_node_kv_transfer_bytes_total');
    const writeSeconds = delta('pd_node_kv_write_seconds_total');
    return {
      backend,
      rooms,
      kvBytesPerRoom: bytes / rooms,
      runsPerRoom: delta('pd_node_kv_transfer_runs_total') / rooms,
      transferGBps: bytes / writeSeconds / 1e9,
      transferMsMean: delta('pd_node_kv_transfer_ms_sum') / rooms,
      exposedMsMean: delta('pd_node_kv_transfer_exposed_ms_sum') / rooms,
      pdTtftMsP50: median(pd),
      colocatedTtftMsP50: median(local),
      ttftRatio: median(pd) / median(local),
    };
  } finally {
    await deployment.close();
  }
}

const modelPath = await ensurePresetModel(preset);
const colocated = await startChildNode(['--model-path', modelPath, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--max-total-tokens', String(promptTokens * 4)]);
const rows: Record<string, number | string>[] = [];
try {
  for (const backend of backends) rows.push(await measure(backend, modelPath, colocated));
} finally {
  await stopChildNode(colocated);
}
console.log(`PD transfer, preset ${preset}, ${promptTokens}-token prompt, ${runs} runs per backend`);
console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toPrecision(4)) : v]))));
if (values.json) writeFileSync(values.json, JSON.stringify({ preset, promptTokens, runs, backends, rows }, null, 2));
