/**
 * `pd-bench transfer --backend verbs` inside the Soft-RoCE VM, as a real process with its spawned
 * receiver: the verbs row's bytes verify, and perftest's ib_write_bw ran in the same run as its
 * reference (a positive rate for the same message size). Structure only: speed is reported by the
 * benchmark, never asserted. Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TransferBenchResult } from '../../bench/transfer/transfer-run.js';
import { runPdBenchJson } from '../bench/pd-bench-process.js';
import { skipOutsideVm } from './rxe-device.js';

describe('pd-bench transfer over verbs on rxe0', { skip: skipOutsideVm }, () => {
  test('the verbs row verifies and has its ib_write_bw reference', () => {
    const args = ['transfer', '--backend', 'verbs', '--sizes', '256KiB', '--page-bytes', '64KiB', '--duration', '1', '--rounds', '1', '--iperf3', 'off'];
    const { result, stdout } = runPdBenchJson<TransferBenchResult>(args, 180_000);
    assert.equal(result.rows.length, 1);
    const [row] = result.rows;
    assert.deepEqual([row.backend, row.size], ['verbs', 256 << 10]);
    assert.ok(row.verifiedSlots > 0 && row.gbps > 0, JSON.stringify(row));
    assert.ok(row.ibWriteBwGbps !== null && row.ibWriteBwGbps > 0, `ib_write_bw: ${row.ibWriteBwGbps}`);
    assert.match(stdout, /verbs 256KiB writes \/ ib_write_bw = \d/);
  });
});
