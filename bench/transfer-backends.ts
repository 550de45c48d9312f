/**
 * `--backend` of the benchmarks that run transfer backends (pd-bench transfer, pd-transfer.js):
 * names from src/transfer/backends.ts, comma-separated, or `auto`: every backend that can run here.
 * With auto, one that cannot (verbs without a usable RDMA device) is skipped with a note on stderr;
 * named explicitly, it fails with the message a node would give.
 *
 * The backends' own flags (`--shm-copy-threads`, `--tcp-send-buffer`, `--disaggregation-ib-device`),
 * as a node takes them: each checked whatever the backends run, applied to its own backend's
 * defaults, absent ones leaving the default.
 */
import { asFlagError, oneOf } from '../src/cli/flag-values.js';
import { TRANSFER_BACKEND_NAMES, TRANSFER_BACKENDS, transferBackend } from '../src/transfer/backends.js';
import type { TransferBackend, TransferConfig } from '../src/transfer/transfer-backend.js';
import { listOf, type BenchFlag } from './bench-flags.js';

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

/** Every backend's flags as bench flags (no value when absent: the backend's default). */
export const BACKEND_SETTING_FLAGS: Readonly<Record<string, BenchFlag>> = Object.fromEntries(
  TRANSFER_BACKENDS.flatMap((b) => b.flags.map((f) => [f.name, { describe: `${b.name}: ${f.describe}`, absent: f.defaultText } satisfies BenchFlag])),
);

/**
 * Every backend's config from its flags that were given (`given(name)`: the raw value or
 * undefined); throws a FlagError naming the first bad flag, whichever backend it belongs to.
 */
export function transferConfigs(given: (name: string) => string | undefined): Record<string, TransferConfig> {
  const configs: Record<string, TransferConfig> = {};
  for (const backend of TRANSFER_BACKENDS as readonly TransferBackend[]) {
    let settings = backend.defaults;
    for (const f of backend.flags) {
      const raw = given(f.name);
      if (raw !== undefined) settings = asFlagError(() => f.apply(settings, raw, `--${f.name}`));
    }
    configs[backend.name] = { backend: backend.name, settings };
  }
  return configs;
}

/** The backend flags that were given, as arguments for another process of the same benchmark (a receiver spawned here). */
export function backendFlagArgs(given: (name: string) => string | undefined): string[] {
  return Object.keys(BACKEND_SETTING_FLAGS).flatMap((name) => {
    const raw = given(name);
    return raw === undefined ? [] : [`--${name}`, raw];
  });
}
