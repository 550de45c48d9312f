/**
 * The process's ZAP handler (ZeroMQ RFC 27): ZeroMQ asks it, on inproc://zeromq.zap.01 of the socket's
 * context, whether a client that completed the CURVE handshake may in. It admits exactly the client
 * public key of the cluster that owns the asking socket's ZAP domain; anything else gets 400.
 *
 * Decisions:
 * - One handler per process (one inproc endpoint per context; every pd-node socket lives in the
 *   global context), shared by every server socket through `admitClusterClients`, counted: it is
 *   bound with the first server socket and closed with the last, so it never keeps a process alive.
 * - Domains map to client keys, so sockets of clusters with different secrets can share a process
 *   (the hostile-peer tests run a stranger's server next to the cluster's); a domain nobody
 *   registered is refused.
 * - Refusals are counted per domain and logged at most once per REFUSAL_LOG_INTERVAL_MS per
 *   domain: a stranger retrying every 100 ms (ZeroMQ's reconnect) must not flood the log.
 * - Answers synchronously in one loop: a request costs a map lookup and a buffer compare.
 */
import { Router } from 'zeromq';
import type { Logger } from '../log/logger.js';
import type { CurveKeys } from './curve-keys.js';

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ZAP_VERSION = '1.0';
/** A refused client retries every 100 ms; one line a minute per domain says it is still there. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** How long a closed handler's endpoint may take to be freed (ZeroMQ's I/O thread; ms on a busy host). */
const REBIND_MS = 2_000;
const REBIND_STEP_MS = 20;

interface Domain {
  clientKey: Buffer;
  users: number;
  log: Logger;
  refused: number;
  lastLogMs: number;
}

const domains = new Map<string, Domain>();
let socket: Router | null = null;

/**
 * Lets clients holding `keys`' client key into server sockets with `keys.zapDomain`. Call before
 * binding such a socket; call the returned function once after closing it.
 */
export async function admitClusterClients(keys: CurveKeys, log: Logger): Promise<() => void> {
  const domain = domains.get(keys.zapDomain);
  if (domain) domain.users++;
  else domains.set(keys.zapDomain, { clientKey: keys.clientPublicKey, users: 1, log, refused: 0, lastLogMs: -Infinity });
  if (socket === null) {
    const handler = new Router({ linger: 0 });
    socket = handler;
    try {
      await bindFreed(handler);
    } catch (err) {
      socket = null;
      handler.close();
      release(keys.zapDomain);
      throw new Error(`cannot start the ZAP handler on ${ZAP_ENDPOINT}: ${(err as Error).message}`);
    }
    void serve(handler, log);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release(keys.zapDomain);
  };
}

/**
 * Binds the handler's endpoint. A handler closed just before (the last server socket went, a new one
 * comes) frees the endpoint in ZeroMQ's I/O thread a moment later, so "in use" is retried, bounded.
 */
async function bindFreed(handler: Router): Promise<void> {
  for (let waitedMs = 0; ; waitedMs += REBIND_STEP_MS) {
    try {
      return await handler.bind(ZAP_ENDPOINT);
    } catch (err) {
      if (!/in use/i.test((err as Error).message) || waitedMs >= REBIND_MS) throw err;
      await new Promise((resolve) => setTimeout(resolve, REBIND_STEP_MS));
    }
  }
}

function release(zapDomain: string): void {
  const domain = domains.get(zapDomain);
  if (domain && --domain.users === 0) domains.delete(zapDomain);
  if (domains.size === 0 && socket !== null) {
    socket.close();
    socket = null;
  }
}

async function serve(handler: Router, log: Logger): Promise<void> {
  try {
    for await (const request of handler) await handler.send(answer(request));
  } catch (err) {
    if (!handler.closed) log.error({ err }, 'ZAP handler failed: CURVE clients can no longer be admitted');
  }
}

/** [routing id, empty, version, request id, domain, address, identity, mechanism, client key] -> reply. */
function answer(request: Buffer[]): (Buffer | string)[] {
  const [route, delimiter, version, requestId, domainName, address, , mechanism, clientKey] = request;
  const reply = (status: string, text: string): (Buffer | string)[] => [route, delimiter, ZAP_VERSION, requestId ?? '', status, text, '', ''];
  if (version?.toString() !== ZAP_VERSION || requestId === undefined) return reply('500', 'unsupported ZAP request');
  const domain = domains.get(domainName?.toString() ?? '');
  if (domain !== undefined && mechanism?.toString() === 'CURVE' && clientKey !== undefined && clientKey.equals(domain.clientKey)) return reply('200', 'OK');
  if (domain !== undefined) noteRefusal(domain, address?.toString() ?? '?');
  return reply('400', 'not a member of this cluster');
}

function noteRefusal(domain: Domain, address: string): void {
  domain.refused++;
  const now = performance.now();
  if (now - domain.lastLogMs < REFUSAL_LOG_INTERVAL_MS) return;
  domain.lastLogMs = now;
  domain.log.warn({ address, refused: domain.refused }, 'ZeroMQ client refused: it does not hold the cluster secret');
}
