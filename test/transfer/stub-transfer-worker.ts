/**
 * A stand-in transfer worker for the client's failure tests: it starts like the real one, then never
 * answers `listen` or `grant` (hung calls) and exits on `write` (a worker dying with a call pending). After
 * answering `connect` it sets the pool's first int32 to 1 (and wakes waiters), so a test knows the
 * reply is queued on the client's side.
 */
import { workerData } from 'node:worker_threads';
import type { TransferReply, TransferRequest, TransferStart, TransferWorkerData } from '../../actors/transfer/protocol.js';

const data = workerData as TransferWorkerData;
const port = data.port;
const replied = data.pool.kind === 'shared' ? new Int32Array(data.pool.buffer, 0, 1) : null;
/** Each reply alone, in a batch of one (the protocol's shape). */
const post = (msg: TransferReply): void => port.postMessage([msg]);
port.on('message', (req: TransferRequest) => {
  if (req.type === 'write') process.exit(3);
  if (req.type === 'connect') {
    post({ type: 'connected', id: req.id });
    if (replied) {
      Atomics.store(replied, 0, 1);
      Atomics.notify(replied, 0);
    }
  }
  if (req.type === 'close_peer') post({ type: 'shut_down', id: req.id }); // the wrong reply type
});
port.postMessage({ type: 'ready' } satisfies TransferStart);
