/**
 * Device selection on recorded port tables: the seed 000 host (eight 400 Gb/s NDR ports, two
 * 100 Gb/s EDR ones to skip), down ports, unknown speeds, mixed link layers, dual-port devices, and
 * the --disaggregation-ib-device override with its errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeviceSelectionError, parseIbDeviceList, selectDevices, type DeviceSelection } from '../../src/transfer/verbs/select-devices.js';
import { EDR, HDR, ibGids, recordedPort, roceGids, SEED_000_HOST, SEED_000_IBDEVICES } from './recorded-ports.js';

function decisions(s: DeviceSelection): string[] {
  return s.choices.map((c) => `${c.port.device}:${c.port.port} ${c.chosen ? 'chosen' : 'skipped'}: ${c.reason}`);
}

describe('default selection', () => {
  test('seed 000: the eight 400 Gb/s NDR devices, mlx5_1 and mlx5_6 at 100 Gb/s EDR skipped', () => {
    const s = selectDevices(SEED_000_HOST);
    assert.equal(s.ibDevices, SEED_000_IBDEVICES);
    assert.deepEqual(decisions(s), [
      'mlx5_0:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_1:1 skipped: 100 Gb/s, below the top rate 400 Gb/s',
      'mlx5_2:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_3:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_4:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_5:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_6:1 skipped: 100 Gb/s, below the top rate 400 Gb/s',
      'mlx5_7:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_8:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_9:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
    ]);
  });

  test('each chosen RoCE port connects through its RoCE v2 IPv4-mapped GID', () => {
    const s = selectDevices(SEED_000_HOST);
    assert.deepEqual(s.chosen.map((c) => [c.gid?.index, c.gid?.type, c.gid?.ipv4]), s.chosen.map((c) => [3, 'RoCE v2', c.port.gids[3].ipv4]));
    assert.equal(s.chosen[0].gid?.gid, '0000:0000:0000:0000:0000:ffff:c0a8:000a');
    assert.equal(SEED_000_HOST[0].gids[0].gid, 'fe80:0000:0000:0000:5aa2:e1ff:fea5:399e');
  });

  test('the order devices are listed in does not matter; names sort naturally (mlx5_10 after mlx5_9)', () => {
    const extra = recordedPort({ device: 'mlx5_10', gids: roceGids('58a2e10300a7ea66', '192.168.10.10') });
    const s = selectDevices([...SEED_000_HOST, extra].reverse());
    assert.equal(s.ibDevices, `${SEED_000_IBDEVICES},mlx5_10`);
  });

  test('ports that are not ACTIVE are skipped, and the top rate is taken among the usable ports', () => {
    const ports = [
      recordedPort({ device: 'mlx5_0', state: 'DOWN', gids: [] }),
      recordedPort({ device: 'mlx5_1', state: 'INIT', gids: roceGids('58a2e10300a5399e', '10.0.0.1') }),
      recordedPort({ device: 'mlx5_2', speed: HDR, gids: roceGids('58a2e10300a539ae', '10.0.0.2') }),
      recordedPort({ device: 'mlx5_3', speed: EDR, gids: roceGids('58a2e10300a5413e', '10.0.0.3') }),
    ];
    const s = selectDevices(ports);
    assert.equal(s.ibDevices, 'mlx5_2');
    assert.deepEqual(decisions(s), [
      'mlx5_0:1 skipped: port DOWN, not ACTIVE',
      'mlx5_1:1 skipped: port INIT, not ACTIVE',
      'mlx5_2:1 chosen: ACTIVE at the top rate, 200 Gb/s Ethernet',
      'mlx5_3:1 skipped: 100 Gb/s, below the top rate 200 Gb/s',
    ]);
  });

  test('an unknown speed code or an empty GID table makes a port unusable', () => {
    const ports = [
      recordedPort({ device: 'mlx5_0', speed: 256, gids: roceGids('58a2e10300a5399e', '10.0.0.1') }),
      recordedPort({ device: 'mlx5_1', gids: [] }),
      recordedPort({ device: 'mlx5_2', speed: EDR, gids: roceGids('58a2e10300a539ae', '10.0.0.2') }),
    ];
    assert.deepEqual(decisions(selectDevices(ports)), [
      'mlx5_0:1 skipped: unknown link speed (active_speed 256, active_width 2)',
      'mlx5_1:1 skipped: no GID in the port table',
      'mlx5_2:1 chosen: ACTIVE at the top rate, 100 Gb/s Ethernet',
    ]);
  });

  test('no usable port: nothing chosen, every port says why', () => {
    const s = selectDevices([recordedPort({ device: 'mlx5_0', state: 'DOWN', gids: [] }), recordedPort({ device: 'mlx5_1', state: 'ARMED', gids: [] })]);
    assert.deepEqual(s.chosen, []);
    assert.equal(s.ibDevices, '');
    assert.deepEqual(decisions(s), ['mlx5_0:1 skipped: port DOWN, not ACTIVE', 'mlx5_1:1 skipped: port ARMED, not ACTIVE']);
  });

  test('mixed link layers at the top rate: the layer with more ports wins, InfiniBand on a tie', () => {
    const ib = (n: number) => recordedPort({ device: `mlx5_${n}`, linkLayer: 'InfiniBand', gids: ibGids(`58a2e10300a5390${n}`) });
    const eth = (n: number) => recordedPort({ device: `mlx5_${n}`, gids: roceGids(`58a2e10300a5390${n}`, `10.0.0.${n}`) });
    const s = selectDevices([ib(0), ib(1), ib(2), eth(3), eth(4)]);
    assert.equal(s.ibDevices, 'mlx5_0,mlx5_1,mlx5_2');
    assert.deepEqual(decisions(s).slice(3), [
      'mlx5_3:1 skipped: Ethernet link layer; the chosen 400 Gb/s ports are InfiniBand',
      'mlx5_4:1 skipped: Ethernet link layer; the chosen 400 Gb/s ports are InfiniBand',
    ]);
    assert.equal(s.chosen[0].gid?.type, 'IB');
    assert.equal(s.chosen[0].gid?.index, 0);
    assert.equal(selectDevices([ib(0), eth(1), eth(2)]).ibDevices, 'mlx5_1,mlx5_2');
    assert.equal(selectDevices([eth(0), ib(1)]).ibDevices, 'mlx5_1');
  });

  test('a dual-port device is used once, through its first eligible port', () => {
    const gids = roceGids('58a2e10300a5399e', '10.0.0.1');
    const s = selectDevices([
      recordedPort({ device: 'mlx5_0', port: 2, gids }),
      recordedPort({ device: 'mlx5_0', port: 1, gids }),
      recordedPort({ device: 'mlx5_1', port: 1, state: 'DOWN', gids }),
      recordedPort({ device: 'mlx5_1', port: 2, gids }),
    ]);
    assert.equal(s.ibDevices, 'mlx5_0,mlx5_1');
    assert.deepEqual(decisions(s), [
      'mlx5_0:1 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
      'mlx5_0:2 skipped: mlx5_0 uses port 1',
      'mlx5_1:1 skipped: port DOWN, not ACTIVE',
      'mlx5_1:2 chosen: ACTIVE at the top rate, 400 Gb/s Ethernet',
    ]);
  });
});

describe('--disaggregation-ib-device', () => {
  test('names the devices to use, in its order, whatever their rate', () => {
    const s = selectDevices(SEED_000_HOST, ['mlx5_6', 'mlx5_1']);
    assert.equal(s.ibDevices, 'mlx5_6,mlx5_1');
    assert.deepEqual(s.chosen.map((c) => c.port.rate?.text), ['100 Gb/s (4X EDR)', '100 Gb/s (4X EDR)']);
    const lines = decisions(s);
    assert.equal(lines[1], 'mlx5_1:1 chosen: named by --disaggregation-ib-device');
    assert.equal(lines[0], 'mlx5_0:1 skipped: not named by --disaggregation-ib-device');
    assert.equal(selectDevices(SEED_000_HOST, SEED_000_IBDEVICES.split(',')).ibDevices, SEED_000_IBDEVICES);
  });

  test('a named device uses its fastest usable port', () => {
    const gids = roceGids('58a2e10300a5399e', '10.0.0.1');
    const s = selectDevices([recordedPort({ device: 'mlx5_0', port: 1, speed: EDR, gids }), recordedPort({ device: 'mlx5_0', port: 2, gids })], ['mlx5_0']);
    assert.deepEqual(decisions(s), ['mlx5_0:1 skipped: mlx5_0 uses port 2', 'mlx5_0:2 chosen: named by --disaggregation-ib-device']);
  });

  test('names that match no device are an error naming them', () => {
    assert.throws(() => selectDevices(SEED_000_HOST, ['mlx5_0', 'mlx5_12']), {
      name: 'DeviceSelectionError',
      message: '--disaggregation-ib-device names a device that does not exist: mlx5_12 (devices here: mlx5_0, mlx5_1, mlx5_2, mlx5_3, mlx5_4, mlx5_5, mlx5_6, mlx5_7, mlx5_8, mlx5_9)',
    });
    assert.throws(() => selectDevices(SEED_000_HOST, ['mlx4_0', 'mlx5_0', 'ib0']), /names devices that do not exist: mlx4_0, ib0 \(/);
  });

  test('a device named twice, a named device without a usable port, and mixed link layers are errors', () => {
    assert.throws(() => selectDevices(SEED_000_HOST, ['mlx5_0', 'mlx5_2', 'mlx5_0']), { message: '--disaggregation-ib-device names mlx5_0 more than once' });
    const down = recordedPort({ device: 'mlx5_3', state: 'DOWN', gids: [] });
    assert.throws(() => selectDevices([...SEED_000_HOST.slice(0, 3), down], ['mlx5_0', 'mlx5_3']), {
      message: '--disaggregation-ib-device names mlx5_3, which has no usable port (port 1: port DOWN, not ACTIVE)',
    });
    const ib = recordedPort({ device: 'mlx5_9', linkLayer: 'InfiniBand', gids: ibGids('58a2e10300a7ea56') });
    assert.throws(() => selectDevices([SEED_000_HOST[0], ib], ['mlx5_0', 'mlx5_9']), {
      message: '--disaggregation-ib-device names devices on different link layers (mlx5_0 Ethernet, mlx5_9 InfiniBand); a transfer uses one',
    });
  });

  test('the value is a comma-separated list; blanks around names are ignored, empty names are errors', () => {
    assert.deepEqual(parseIbDeviceList('mlx5_0, mlx5_2'), ['mlx5_0', 'mlx5_2']);
    assert.deepEqual(parseIbDeviceList(SEED_000_IBDEVICES), SEED_000_IBDEVICES.split(','));
    for (const bad of ['', 'mlx5_0,', ',mlx5_0', 'mlx5_0,,mlx5_2']) assert.throws(() => parseIbDeviceList(bad), DeviceSelectionError, bad);
  });
});
