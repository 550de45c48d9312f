/**
 * `pd-bench transfer --backend verbs` inside the Soft-RoCE VM, as a real process with its spawned
 * receiver: the verbs row's bytes verify, and perftest's ib_write_bw ran in the same run as its
 * reference (a positive rate for the same message size). Structure only: speed is reported by the
 * benchmark, never asserted. Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TransferBenchResult } from '../../bench/transfer/transfer-run.js';
import { skipOutsideVm } from './rxe-device.js';

const PD_BENCH = fileURLToPath(new URL('../../bench/pd-bench.js', import.meta.url));

describe('pd-bench transfer over verbs on rxe0', { skip: skipOutsideVm }, () => {
  test('the verbs row verifies and has its ib_write_bw reference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-bench-verbs-'));
    try {
      const file = join(dir, 'out.json');
      const args = ['transfer', '--backend', 'verbs', '--sizes', '256KiB', '--page-bytes', '64KiB', '--duration', '1', '--rounds', '1', '--iperf3', 'off', '--json', file];
      const run = spawnSync(process.execPath, [PD_BENCH, ...args], { encoding: 'utf8', timeout: 180_000 });
      assert.equal(run.status, 0, run.stderr);
      const { rows } = JSON.parse(readFileSync(file, 'utf8')) as TransferBenchResult;
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.deepEqual([row.backend, row.size], ['verbs', 256 << 10]);
      assert.ok(row.verifiedSlots > 0 && row.gbps > 0, JSON.stringify(row));
      assert.ok(row.ibWriteBwGbps !== null && row.ibWriteBwGbps > 0, `ib_write_bw: ${row.ibWriteBwGbps}`);
      assert.match(run.stdout, /verbs 256KiB writes \/ ib_write_bw = \d/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
