/**
 * Worker-thread entry hosting one instant prefill node and one instant decode node (instant-node.ts)
 * for `pd-bench router`, so the upstream answers run on their own event loop, not the load
 * generator's. Posts `{ prefill, decode }` (their URLs) once both listen; exits on any message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startInstantNode } from './instant-node.js';

const port = parentPort;
if (!port) throw new Error('instant-nodes-worker must run in a worker thread');
const host = workerData as string;
const [prefill, decode] = await Promise.all([startInstantNode('prefill', host, 0), startInstantNode('decode', host, 0)]);
port.postMessage({ prefill: prefill.url, decode: decode.url });
port.once('message', () => {
  prefill.close();
  decode.close();
  port.close();
});
