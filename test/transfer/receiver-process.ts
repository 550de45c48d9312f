/**
 * A decode node's transfer side as a separate process, for the transfer tests: builds a pool (where
 * the backend's descriptor places it, shm: createShmKvPool; else a SharedArrayBuffer), starts the transfer actor over it and listens on
 * 127.0.0.1. It prints its endpoint as one JSON line, then answers stdin lines: `digests` prints the
 * per-page digests; `grant <room> <writer> <page ids JSON>`, `release <room> <how>` and
 * `cut <writer>` call the receiver and print `{"done": ...}`; `exit` (or stdin closing) cleans up
 * (unlinks an shm segment) and exits.
 * Usage: node receiver-process.js <tcp|shm|verbs> <layout JSON> <pages>
 */
import { createInterface } from 'node:readline';
import type { KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { defaultTransferConfig, transferBackend } from '../../src/transfer/backends.js';
import { pageDigests } from './pages.js';

const [backend, layoutJson, pagesArg] = process.argv.slice(2);
if (!backend || !layoutJson || !pagesArg) throw new Error('usage: receiver-process.js <tcp|shm|verbs> <layout JSON> <pages>');
const layout = JSON.parse(layoutJson) as KvLayout;
const numPages = Number(pagesArg);

const placed = transferBackend(backend).createPool?.(layout, numPages);
const pool = placed?.pool ?? new KvPool(layout, numPages);
const actor = await TransferActorClient.start(defaultTransferConfig(backend), pool, 'warn');
const endpoint = await actor.listen('127.0.0.1');
console.log(JSON.stringify({ endpoint }));

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await actor.close();
  placed?.region?.unlink();
  placed?.region?.close();
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
const calls: Record<string, (args: string[]) => Promise<unknown>> = {
  grant: ([room, writer, pages]) => actor.grant(room, writer, JSON.parse(pages) as number[]).then(() => true),
  release: ([room, how]) => actor.release(room, how as 'confirmed' | 'unconfirmed'),
  cut: ([writer]) => actor.cutWriter(writer),
};
lines.on('line', (line) => {
  const [command, ...args] = line.split(' ');
  if (command === 'digests') console.log(JSON.stringify({ digests: pageDigests(pool) }));
  else if (command === 'exit') void stop();
  else if (calls[command]) void calls[command](args).then((done) => console.log(JSON.stringify({ done })), (err: Error) => console.log(JSON.stringify({ error: err.message })));
});
lines.on('close', () => void stop());
