/**
 * The etcd3 client as pd-node's membership uses it, one configuration for nodes and routers.
 *
 * Decisions:
 * - Every unary call attempt carries a gRPC deadline of a third of `timeoutMs`: without one a call
 *   to a member cut off by a partition (packets dropped, no RST) hangs until TCP gives up, and the
 *   client never moves on to a member that answers. etcd3 retries a failed attempt up to
 *   ETCD3_ATTEMPTS times, each on the next member in a shuffled order, and callers bound the whole
 *   call by `timeoutMs` (withTimeout): with a full `timeoutMs` per attempt, a call whose first
 *   attempt went to a cut-off member timed out before its retry reached a live one (seen as a node's
 *   record missing for 30 s, a router not learning a new node, with one member dead and one cut
 *   off). A failed attempt also counts against that member (etcd3's circuit breaker, open after 3
 *   in a row), so later calls go elsewhere. Streams (watch, lease keep-alives) have no deadline:
 *   they live as long as the client.
 * - gRPC keep-alive pings every GRPC_KEEPALIVE_MS, the connection declared dead after
 *   GRPC_KEEPALIVE_TIMEOUT_MS without an answer: a stream to a cut-off member breaks within ~6 s and
 *   the client re-establishes it on another member (the watch resumes from its last revision).
 *   5 s is etcd's default --grpc-keepalive-min-time: pinging more often gets the connection closed
 *   with GOAWAY "too many pings" (seen as RESOURCE_EXHAUSTED), over and over. That is longer than a
 *   node's 3 s lease TTL, so a node whose keep-alive stream sat on a cut-off member may lose its
 *   lease and put its record back under a new one (etcd-node-registration.ts): the router sees at
 *   most a short expiry, which is only a hint to it.
 * - Credentials (etcd-access.ts) are passed through: a CA file switches the members' URLs to
 *   https. The files are read once, when the client is made.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { NO_ETCD_ACCESS, type EtcdAccess } from './etcd-access.js';
import { etcdHosts } from './etcd-url.js';

function credentials(access: Readonly<EtcdAccess>): Pick<IOptions, 'auth' | 'credentials'> {
  const out: Pick<IOptions, 'auth' | 'credentials'> = {};
  if (access.user !== null) {
    const colon = access.user.indexOf(':');
    out.auth = { username: access.user.slice(0, colon), password: access.user.slice(colon + 1) };
  }
  if (access.cacert !== null) {
    out.credentials = {
      rootCertificate: readFileSync(access.cacert),
      ...(access.cert !== null && access.key !== null ? { certChain: readFileSync(access.cert), privateKey: readFileSync(access.key) } : {}),
    };
  }
  return out;
}

/** etcd3's default global retry policy: a call is attempted up to 3 times (connection-pool.js). */
const ETCD3_ATTEMPTS = 3;
const GRPC_KEEPALIVE_MS = 5000;
const GRPC_KEEPALIVE_TIMEOUT_MS = 1000;

export function etcdClient(url: string, timeoutMs: number, access: Readonly<EtcdAccess> = NO_ETCD_ACCESS): Etcd3 {
  return new Etcd3({
    ...credentials(access),
    hosts: etcdHosts(url, access.cacert !== null),
    dialTimeout: timeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs / ETCD3_ATTEMPTS }),
    grpcOptions: {
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 1,
    },
  });
}
