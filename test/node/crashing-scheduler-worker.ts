/**
 * A stand-in scheduler worker for test/node/scheduler-lost.test.ts: it starts like the real one
 * (answers `ready`), then throws on the first `generate`, the way a bug in the scheduler would kill
 * its thread.
 */
import { parentPort } from 'node:worker_threads';
import type { ModelInfo, SchedulerInbound, SchedulerOutbound } from '../../actors/scheduler/protocol.js';

const port = parentPort!;
const model = { servedModelName: 'stand-in' } as ModelInfo;
port.on('message', (msg: SchedulerInbound) => {
  if (msg.type === 'generate') throw new Error('a bug in the scheduler');
  if (msg.type === 'shutdown') port.close();
});
port.postMessage({ type: 'ready', model } satisfies SchedulerOutbound);
