/**
 * A stand-in actor for test/util/worker-actor.test.ts; `workerData` picks its behaviour:
 * - silent: never says ready (it counts in `beats` while it lives, so the test sees it terminated);
 * - refuse: says it could not start; exit: exits with code 3 during start-up;
 * - deaf: says ready, then ignores every message (stop must terminate it);
 * - polite: says ready, exits when asked ('stop'), throws on 'crash'.
 */
import { parentPort, workerData } from 'node:worker_threads';

export interface StandInData {
  behaviour: 'silent' | 'refuse' | 'exit' | 'deaf' | 'polite';
  beats: SharedArrayBuffer;
}

const port = parentPort!;
const { behaviour, beats } = workerData as StandInData;
const counter = new Int32Array(beats);
setInterval(() => Atomics.add(counter, 0, 1), 5);
switch (behaviour) {
  case 'silent':
    break;
  case 'refuse':
    port.postMessage({ type: 'failed', message: 'no device' });
    break;
  case 'exit':
    process.exit(3);
    break;
  case 'deaf':
    port.postMessage({ type: 'ready', value: 42 });
    break;
  case 'polite':
    port.on('message', (msg: string) => {
      if (msg === 'crash') throw new Error('a bug in the actor');
      if (msg === 'stop') process.exit(0);
    });
    port.postMessage({ type: 'ready', value: 42 });
    break;
}
