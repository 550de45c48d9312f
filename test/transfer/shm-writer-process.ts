/**
 * A prefill node's shm sender as a separate process, for the shm trust tests: connects to the
 * endpoint as the writer named, from a pool of random pages. Prints one JSON line on start-up
 * (`{ connected: true }` or `{ error }`), then answers stdin lines with one JSON line each:
 * `write <runs JSON>` -> `{ bytes }` or `{ error }`; `ping` -> `{ pong: pid }`; `exit` (or stdin
 * closing) closes the sender (its writer lock goes) and exits.
 * Usage: node shm-writer-process.js <endpoint JSON> <layout JSON> <pages> <writer>
 */
import { createInterface } from 'node:readline';
import type { KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import type { KvEndpoint, KvSender, PageRun } from '../../src/transfer/kv-transfer.js';
import { ShmKvManager } from '../../src/transfer/shm/shm-kv-manager.js';
import { fillRandom } from './pages.js';

const [endpointJson, layoutJson, pagesArg, writer] = process.argv.slice(2);
if (!endpointJson || !layoutJson || !pagesArg || !writer) throw new Error('usage: shm-writer-process.js <endpoint JSON> <layout JSON> <pages> <writer>');
const pool = new KvPool(JSON.parse(layoutJson) as KvLayout, Number(pagesArg));
fillRandom(pool);
const say = (reply: unknown): void => console.log(JSON.stringify(reply));

let sender: KvSender | null = null;
try {
  sender = await new ShmKvManager(() => {}).connect(JSON.parse(endpointJson) as KvEndpoint, pool, writer);
  say({ connected: true });
} catch (err) {
  say({ error: (err as Error).message });
}

async function exit(): Promise<void> {
  await sender?.close();
  process.exit(0);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, arg] = [line.split(' ', 1)[0], line.slice(line.indexOf(' ') + 1)];
  if (command === 'ping') say({ pong: process.pid });
  else if (command === 'exit') void exit();
  else if (command === 'write' && sender) {
    const writing = sender;
    // An shm write answers within the call (or throws): through a promise, both reach `say`.
    Promise.resolve().then(() => writing.write(JSON.parse(arg) as PageRun[], 10_000, '1')).then(
      (r) => say({ bytes: r.bytes }),
      (err: Error) => say({ error: err.message }),
    );
  }
});
lines.on('close', () => void exit());
