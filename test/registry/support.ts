/**
 * Helpers for the registry tests: the cluster keys they use (from a secret of their own, so the
 * user's default secret file is not touched), valid node records and owner tokens, a raw DEALER for
 * speaking the wire protocol by hand, bounded waits for membership changes, a port with nothing
 * listening on it, and a registry (re)started on a given port.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dealer } from 'zeromq';
import { createLogger } from '../../src/log/logger.js';
import { withTimeout } from '../../src/util/timeout.js';
import type { MembershipChange } from '../../src/registry/membership.js';
import { parseReply } from '../../src/registry/messages.js';
import type { NodeRecord, RegisteredRole, RegistryReply } from '../../src/registry/protocol.js';
import { startRegistry, type RegistryServer } from '../../src/registry/registry-server.js';
import { curveClientOptions, curveKeys } from '../../src/security/curve-keys.js';

export const log = createLogger('silent');
export const curve = curveKeys(randomBytes(32));

/** A fresh owner token, as a RegistryClient picks one per register. */
export function ownerToken(): string {
  return randomBytes(16).toString('hex');
}

/** A valid record; `port` keeps httpUrl unique (records with the same httpUrl replace each other). */
export function nodeRecord(id: string, role: RegisteredRole, port: number): NodeRecord {
  return {
    id,
    role,
    httpUrl: `http://127.0.0.1:${port}`,
    controlAddr: `tcp://127.0.0.1:${port + 1000}`,
    bootstrapPort: role === 'prefill' ? port + 1000 : null,
    model: { fingerprint: 'sha256:abc', servedModelName: 'tiny' },
    kvLayout: { numLayers: 2, entriesPerToken: 64, dtype: 'float32', pageSize: 16 },
  };
}

/** Resolves with the first change for which `match` holds (bounded by `ms`). */
export function nextChange(server: RegistryServer, match: (c: MembershipChange) => boolean, ms = 5000): Promise<MembershipChange> {
  let unsubscribe = (): void => undefined;
  const seen = new Promise<MembershipChange>((resolve) => {
    unsubscribe = server.onChange((change) => {
      if (match(change)) resolve(change);
    });
  });
  return withTimeout(seen, ms, 'waiting for a registry change').finally(unsubscribe);
}

/** A DEALER of the cluster that sends hand-made frames; its receive timeout bounds every wait for a reply. */
export function rawDealer(url: string): Dealer {
  const socket = new Dealer({ linger: 0, receiveTimeout: 3000, ...curveClientOptions(curve) });
  socket.connect(url);
  return socket;
}

/** Sends `frames` and returns the parsed reply (failing the test if it is not a valid reply). */
export async function ask(socket: Dealer, frames: string | Buffer | (string | Buffer)[]): Promise<RegistryReply> {
  await socket.send(frames);
  const [frame] = await socket.receive();
  const parsed = parseReply(frame);
  if (!parsed.ok) throw new Error(`invalid reply from the registry: ${parsed.reason}`);
  return parsed.value;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (nothing listens on it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 2000, 'listen on a free port');
  const address = server.address();
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 2000, 'close the probe server');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/**
 * Starts a registry on `port`, retrying while the port is still held: ZeroMQ releases a closed
 * socket's port in its I/O thread a moment after close() returns.
 */
export async function startRegistryOn(port: number, ms = 5000): Promise<RegistryServer> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await startRegistry({ host: '127.0.0.1', port, curve, log });
    } catch (err) {
      if (!/in use/i.test((err as Error).message) || Date.now() > deadline) throw err;
    }
    await sleep(20);
  }
}
