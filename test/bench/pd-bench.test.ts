/**
 * `pd-bench` runs as a real process: `transfer --quick` for tcp and shm (a receiving process spawned
 * by the benchmark, bytes verified after every row) and `router --quick` (the router CLI as a process
 * in front of instant nodes) write every row with sane values; the backends' own flags reach both
 * sides; bad flags are usage errors naming the flag. Structure and sanity only: speed is reported by the benchmark, never asserted.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { RouterBenchResult } from '../../bench/router/router-run.js';
import type { TransferBenchResult } from '../../bench/transfer/transfer-run.js';
import { TRANSFER_BACKEND_NAMES, transferBackend } from '../../src/transfer/backends.js';
import { pinningUnavailable } from '../../bench/cpu-pin.js';
import { PD_BENCH, runPdBench, runPdBenchJson } from './pd-bench-process.js';

const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;
const nonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

test('the pd-bench bin starts with a node shebang and lists its benchmarks', () => {
  assert.match(readFileSync(PD_BENCH, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const help = runPdBench(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /pd-bench transfer/);
  assert.match(help.stdout, /pd-bench router/);
});

for (const backend of ['tcp', 'shm'] as const) {
  test(`pd-bench transfer --quick --backend ${backend}: every size has a verified row with its baseline`, () => {
    const { result, stdout } = runPdBenchJson<TransferBenchResult>(['transfer', '--quick', '--backend', backend, '--pattern', 'scattered', '--page-bytes', '16KiB', '--sizes', '16KiB,1MiB']);
    assert.deepEqual(
      result.rows.map((r) => [r.backend, r.size]),
      [
        [backend, 16384],
        [backend, 1 << 20],
      ],
    );
    for (const r of result.rows) {
      const what = `${backend} ${r.size}: ${JSON.stringify(r)}`;
      for (const key of ['writes', 'seconds', 'writesPerSec', 'gbps', 'p50Ms', 'p99Ms', 'baselineGbps', 'ratio', 'txCpuUsPerWrite'] as const) assert.ok(positive(r[key]), `${key} in ${what}`);
      assert.ok(r.p99Ms >= r.p50Ms, what);
      assert.equal(r.baseline, backend === 'shm' ? 'Buffer.copy' : 'plain socket');
      const { defaults } = transferBackend(backend);
      assert.deepEqual(r.settings, { sender: defaults, receiver: defaults }, 'no backend flag: the defaults on both sides');
      assert.equal(r.memcpyGbps !== null && positive(r.memcpyGbps), backend === 'shm', `shm alone has the memcpy reference: ${what}`);
      assert.equal(r.runsPerWrite > 1, r.size > 16384, `a scattered write of several pages has several runs: ${what}`);
      // 2 writes in flight: two destination slots, each checked against the source after the row
      assert.equal(r.verifiedSlots, 2, what);
      for (const loop of [r.senderLoop, r.receiverLoop]) assert.ok(nonNegative(loop.p99Ms) && loop.maxMs >= loop.p99Ms, what);
    }
    assert.match(stdout, /backend +pattern +size +runs\/write/);
    assert.match(stdout, new RegExp(`${backend} +scattered +1MiB`));
    if (backend === 'shm') assert.match(stdout, /memcpy \(libc\) of the same runs .*, 1MiB: [\d.]+ GB\/s; shm 1MiB writes \/ memcpy = [\d.]+/);
  });
}

test('pd-bench transfer --pin-main: both main threads alone on one CPU, every other thread of both processes on the other', { skip: pinningUnavailable() ?? false }, () => {
  const { result, stdout } = runPdBenchJson<TransferBenchResult>(['transfer', '--quick', '--backend', 'shm,tcp', '--sizes', '1MiB', '--pin-main', 'on']);
  assert.deepEqual(result.rows.map((r) => r.backend), ['shm', 'tcp']);
  for (const r of result.rows) {
    const pinned = r.pinned!;
    assert.equal(pinned.length, 2, 'the sending and the receiving process');
    assert.notEqual(pinned[0].pid, pinned[1].pid);
    // Besides the main thread, the write driver / transfer actor, V8's and libuv's threads were found
    // and placed (pinMainThread fails the run if any is elsewhere).
    for (const p of pinned) assert.ok(p.otherCpus.length >= 3 && p.mainCpus.length === 1, JSON.stringify(p));
    assert.equal(r.verifiedSlots, 2);
  }
  assert.match(stdout, /pinned \(--pin-main on\)/);
});

test('pd-bench router --quick: req/s, added latency and CPU per request, closed and open loop, no failed request', () => {
  const { result, stdout } = runPdBenchJson<RouterBenchResult>(['router', '--quick']);
  // nginx is measured only when on PATH; the test needs it not, and checks its rows when they are there.
  const targets = result.nginxSkipped === null ? ['direct', 'nginx', 'router'] : ['direct', 'router'];
  const loads = [
    ['closed', 1],
    ['closed', 16],
    ['open', 100],
  ];
  assert.deepEqual(
    result.rows.map((r) => [r.mode, r.load, r.target]),
    loads.flatMap(([mode, load]) => targets.map((target) => [mode, load, target])),
  );
  for (const r of result.rows) {
    const what = JSON.stringify(r);
    for (const key of ['reqPerSec', 'p50Ms', 'p99Ms', 'requests'] as const) assert.ok(positive(r[key]), `${key} in ${what}`);
    const direct = result.rows.find((d) => d.mode === r.mode && d.load === r.load && d.target === 'direct')!;
    assert.equal(r.addedP50Ms, r.p50Ms - direct.p50Ms, what);
    assert.equal(r.cpuUsPerRequest === null, r.target === 'direct', `CPU per request for every target with processes of its own: ${what}`);
    assert.equal(r.vsNginx === null, r.target !== 'router' || result.nginxSkipped !== null, what);
    assert.equal(r.errors, 0, what);
  }
  assert.match(stdout, /mode +load +target +req\/s/);
  assert.match(stdout, /open +100 req\/s +router/);
});

test('pd-bench router --pin on: the proxies alone on a CPU, per-core columns', { skip: pinningUnavailable() ?? false }, () => {
  const { result, stdout } = runPdBenchJson<RouterBenchResult>(['router', '--quick', '--concurrency', '16', '--rate', '100', '--pin', 'on']);
  assert.equal(result.options.pin, true);
  assert.match(stdout, /pinned: each proxy alone on CPU 1, load generator and instant nodes on CPU 0/);
  const router = result.rows.find((r) => r.target === 'router' && r.mode === 'closed')!;
  // One CPU at most (within /proc's 10 ms ticks): the router's processes could run on CPU 1 only.
  assert.ok(router.cpuShare !== null && router.cpuShare > 0 && router.cpuShare <= 1.1, JSON.stringify(router));
  assert.ok(positive(router.cpuUsPerRequest), JSON.stringify(router));
  if (result.nginxSkipped === null) assert.ok(positive(router.vsNginxPerCpu), JSON.stringify(router));
});

test('pd-bench transfer: a backend flag (--tcp-send-buffer 0) sets the sender and reaches the receiver it spawns; both are reported', () => {
  const { result, stdout } = runPdBenchJson<TransferBenchResult>(['transfer', '--quick', '--backend', 'tcp', '--sizes', '64KiB', '--tcp-send-buffer', '0', '--shm-copy-threads', '3']);
  assert.equal(result.rows.length, 1);
  assert.deepEqual(result.rows[0].settings, { sender: { sendBufferBytes: 0 }, receiver: { sendBufferBytes: 0 } });
  assert.deepEqual(result.options.transfer.shm.settings, { copyThreads: 3 }, "another backend's flag is checked and kept, not dropped");
  assert.match(stdout, /^tcp settings: sender \{"sendBufferBytes":0\}, receiver \{"sendBufferBytes":0\}$/m);
});

test('pd-bench: bad flags are usage errors naming the flag', () => {
  for (const [args, flag] of [
    [['transfer', '--sizes', '4KiB,3000'], /--sizes/],
    [['transfer', '--backend', 'udp'], new RegExp(`--backend must be one of ${TRANSFER_BACKEND_NAMES.join(', ')} \\(got "udp"\\)`)],
    [['transfer', '--pattern', 'random'], /--pattern must be one of contiguous, scattered/],
    [['transfer', '--pin-main', 'on', '--peer', '127.0.0.1:1'], /--pin-main on .* --peer/],
    [['transfer', '--pin-main', 'yes'], /--pin-main must be one of on, off/],
    [['transfer', '--backend', 'tcp', '--shm-copy-threads', '0'], /--shm-copy-threads must be an integer from 1 to 16 \(got "0"\)/],
    [['transfer', '--tcp-send-buffer', 'lots'], /--tcp-send-buffer/],
    [['router', '--concurrency', '1,,4'], /--concurrency/],
    [['router', '--prefill', 'http://127.0.0.1:1'], /--prefill and --decode go together/],
    [['router', '--bogus'], /Unknown argument: bogus/],
    [['router', '--pin', 'yes'], /--pin must be one of on, off/],
  ] as const) {
    const run = runPdBench([...args]);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, flag);
  }
});
