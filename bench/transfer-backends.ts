/**
 * `--backend` of the benchmarks that run transfer backends (pd-bench transfer, pd-transfer.js):
 * names from src/transfer/backends.ts, comma-separated, or `auto`: every backend that can run here.
 * With auto, one that cannot (verbs without a usable RDMA device) is skipped with a note on stderr;
 * named explicitly, it fails with the message a node would give.
 */
import { oneOf } from '../src/cli/flag-values.js';
import { TRANSFER_BACKEND_NAMES, transferBackend } from '../src/transfer/backends.js';
import { listOf } from './bench-flags.js';

export const BACKEND_FLAG_HELP = `Comma-separated backends (${TRANSFER_BACKEND_NAMES.join(', ')}), or auto: every one that can run here (verbs: an RDMA device is usable)`;

/** The backends `raw` asks for, in table order for auto; `command` names the benchmark in notes. */
export async function resolveBackends(raw: string, command: string): Promise<string[]> {
  const auto = raw === 'auto';
  const asked = auto ? TRANSFER_BACKEND_NAMES : [...new Set(listOf('--backend', raw, (flag, b) => oneOf(flag, b, TRANSFER_BACKEND_NAMES)))];
  const backends: string[] = [];
  for (const name of asked) {
    const problem = await transferBackend(name).unavailable();
    if (problem === null) backends.push(name);
    else if (auto) process.stderr.write(`${command}: ${name} skipped: ${problem}\n`);
    else throw new Error(problem);
  }
  return backends;
}
