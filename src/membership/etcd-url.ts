/**
 * etcd membership URLs and keys.
 *
 * Decisions:
 * - `etcd://HOST:PORT[,HOST:PORT...]`: one URL names the whole etcd cluster, so the single
 *   `--registry-url` flag nodes and routers already have carries it; the client spreads calls over
 *   the members and fails over between them. http, or https when a CA is given (etcd-client.ts).
 * - Keys live under one fixed prefix, `/pd-node/`: records at `nodes/<role>/<id>` (each attached
 *   to its node's lease), and at `left/<id>` the httpUrl of a node that deregistered (attached to a
 *   lease of DEREGISTERED_RETENTION_MS, like the ZeroMQ registry's list of deregistered URLs).
 */
import { DEREGISTERED_RETENTION_MS } from '../registry/membership.js';
import type { RegisteredRole } from '../registry/protocol.js';

export const ETCD_PREFIX = '/pd-node/';
export const NODES_PREFIX = `${ETCD_PREFIX}nodes/`;
export const LEFT_PREFIX = `${ETCD_PREFIX}left/`;
/** Whole seconds: etcd lease TTLs are integers. */
export const LEFT_TTL_SECS = Math.ceil(DEREGISTERED_RETENTION_MS / 1000);

const HOST_PORT = /^([^:\s/,]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

export function isEtcdUrl(url: string): boolean {
  return url.startsWith('etcd://');
}

/** The members' client URLs (http://HOST:PORT, https with `tls`); throws naming the bad part. */
export function etcdHosts(url: string, tls = false): string[] {
  if (!isEtcdUrl(url)) throw new Error(`etcd URL must start with etcd:// (got "${url}")`);
  const parts = url.slice('etcd://'.length).split(',');
  return parts.map((part) => {
    const m = HOST_PORT.exec(part);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`etcd URL must look like etcd://HOST:PORT[,HOST:PORT...] ("${part}" in "${url}")`);
    return `${tls ? 'https' : 'http'}://${part}`;
  });
}

export function nodeKey(role: RegisteredRole, id: string): string {
  return `${NODES_PREFIX}${role}/${id}`;
}

export function leftKey(id: string): string {
  return `${LEFT_PREFIX}${id}`;
}
