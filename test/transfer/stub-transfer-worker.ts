/**
 * A stand-in transfer worker for the client's failure tests: it starts like the real one, then never
 * answers `listen` (a hung call) and exits on `write` (a worker dying with a call pending).
 */
import { parentPort } from 'node:worker_threads';
import type { TransferReply, TransferRequest } from '../../actors/transfer/protocol.js';

const port = parentPort!;
const post = (msg: TransferReply): void => port.postMessage(msg);
port.on('message', (req: TransferRequest) => {
  if (req.type === 'write') process.exit(3);
  if (req.type === 'connect') post({ type: 'connected', id: req.id });
  if (req.type === 'close_peer') post({ type: 'shut_down', id: req.id }); // the wrong reply type
});
post({ type: 'ready' });
