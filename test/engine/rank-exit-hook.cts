/**
 * A fault for the `--tp` tests, preloaded into a pd-node process with `node --require` (NODE_OPTIONS),
 * which also runs it in every worker thread. PD_TEST_RANK_EXIT = "rank:arrival:action": in that rank's
 * thread, at its arrival-th barrier arrival, `process.exit(action)` when the action is a number (the
 * exit skips the rank's error handling, as a library calling process.exit would), or an exception
 * when it is `throw` (the rank's own catch reports it). A rank arrives once when ready, once as each
 * step starts, then at every barrier inside the step, so arrival 3 is inside the first forward step.
 * One line on stderr (written synchronously, before the fault) says it happened.
 */
import { writeSync } from 'node:fs';
import { isMainThread, workerData } from 'node:worker_threads';

const spec = process.env.PD_TEST_RANK_EXIT;
const data = workerData as { rank?: unknown; controlAddress?: unknown } | null;
if (spec && !isMainThread && typeof data?.rank === 'number' && typeof data.controlAddress === 'number') {
  const [rank, arrival] = spec.split(':').map(Number);
  const action = spec.split(':')[2];
  const controlAddress = data.controlAddress;
  // The barrier's arrival counter is the control block's Int32 slot 1 (step-barrier.ts CTL.COUNT).
  const COUNT_SLOT = 1;
  if (data.rank === rank) {
    const add = Atomics.add;
    let arrivals = 0;
    Atomics.add = ((array: Int32Array, index: number, value: number): number => {
      if (array.byteOffset === controlAddress && index === COUNT_SLOT && ++arrivals === arrival) {
        if (action === 'throw') {
          writeSync(2, `rank-exit-hook: rank ${rank} throws at barrier arrival ${arrival}\n`);
          throw new Error('an injected fault in the rank');
        }
        writeSync(2, `rank-exit-hook: rank ${rank} calls process.exit(${action}) at barrier arrival ${arrival}\n`);
        process.exit(Number(action));
      }
      return add(array, index, value);
    }) as typeof Atomics.add;
  }
}
