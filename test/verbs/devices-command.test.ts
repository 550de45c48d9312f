/**
 * `pd-node devices`: the report format on the seed 000 host, and the built command run as users run
 * it (here, without RDMA: exit 1 and the no-device message; on an RDMA host: the report).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formatDeviceReport } from '../../src/cli/devices-command.js';
import { discoverAvailablePorts, VerbsUnavailableError } from '../../src/transfer/verbs/require-verbs.js';
import { selectDevices } from '../../src/transfer/verbs/select-devices.js';
import { SEED_000_HOST, SEED_000_IBDEVICES } from './recorded-ports.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Bounds a hung command; never asserted on. */
const RUN_TIMEOUT_MS = 60_000;

function devices(...args: string[]) {
  return spawnSync(process.execPath, [MAIN, 'devices', ...args], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
}

describe('pd-node devices', () => {
  test('the report: a row per port with its decision, then the flag value', () => {
    const lines = formatDeviceReport(selectDevices(SEED_000_HOST)).split('\n');
    assert.match(lines[0], /^DEVICE +PORT +STATE +RATE +LINK LAYER +GID \(index type address\) +CHOICE$/);
    assert.match(lines[1], /^mlx5_0 +1 +ACTIVE +400 Gb\/s \(4X NDR\) +Ethernet +3 RoCE v2 ::ffff:192\.168\.0\.10 +chosen: ACTIVE at the top rate, 400 Gb\/s Ethernet$/);
    assert.match(lines[2], /^mlx5_1 +1 +ACTIVE +100 Gb\/s \(4X EDR\) +Ethernet +3 RoCE v2 ::ffff:192\.168\.1\.10 +skipped: 100 Gb\/s, below the top rate 400 Gb\/s$/);
    const choiceColumn = lines[0].indexOf('CHOICE');
    for (const row of lines.slice(1, 11)) assert.equal(row.search(/(chosen|skipped):/), choiceColumn, row);
    assert.deepEqual(lines.slice(11), ['', `--disaggregation-ib-device ${SEED_000_IBDEVICES}`, '']);
  });

  test('with nothing chosen the report has no flag line', () => {
    const report = formatDeviceReport(selectDevices([{ ...SEED_000_HOST[0], state: 'DOWN' }]));
    assert.equal(report.trim().split('\n').length, 2);
    assert.doesNotMatch(report, /--disaggregation-ib-device/);
  });

  test('run here: without RDMA it exits 1 saying what is missing and that tcp or shm work; with RDMA it prints the choice', () => {
    const r = devices();
    let available: ReturnType<typeof discoverAvailablePorts> | undefined;
    try {
      available = discoverAvailablePorts();
    } catch (err) {
      assert.ok(err instanceof VerbsUnavailableError, String(err));
    }
    if (available === undefined) {
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^pd-node: (ibv_get_device_list found no RDMA device: .+|libibverbs\.so\.1 is not installed .+)\. The verbs transfer backend needs an RDMA device; --disaggregation-transfer-backend tcp or shm work without RDMA\.\n$/);
    } else {
      const selection = selectDevices(available);
      assert.equal(r.status, selection.chosen.length > 0 ? 0 : 1, r.stderr);
      if (selection.chosen.length > 0) assert.ok(r.stdout.endsWith(`\n--disaggregation-ib-device ${selection.ibDevices}\n`), r.stdout);
    }
  });

  test('a bad --disaggregation-ib-device is a usage error (exit 2) whether or not RDMA is there', () => {
    const r = devices('--disaggregation-ib-device', 'mlx5_0,');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--disaggregation-ib-device has an empty device name \(got "mlx5_0,"\)/);
  });
});
