/**
 * How pd-node authenticates to etcd, as etcdctl takes it (`--etcd-user NAME:PASSWORD`,
 * `--etcd-cacert`, `--etcd-cert`, `--etcd-key`). Kept apart from the client (etcd-client.ts) so
 * that options and flags do not load the etcd3 module in every process. Decisions: a client
 * certificate needs its key and a CA (it is a TLS feature); NAME:PASSWORD is split at the first
 * ':', as etcdctl splits it.
 */

/** How to authenticate to etcd; every field null: plain http, no user. */
export interface EtcdAccess {
  /** NAME:PASSWORD (etcdctl's --user). */
  user: string | null;
  /** CA bundle that signs the members' certificates (etcdctl's --cacert): TLS. */
  cacert: string | null;
  /** Client certificate and its key (etcdctl's --cert, --key), for etcd's --client-cert-auth. */
  cert: string | null;
  key: string | null;
}

export const NO_ETCD_ACCESS: Readonly<EtcdAccess> = Object.freeze({ user: null, cacert: null, cert: null, key: null });

/** What is wrong with `access` (a message naming the flag), or null. */
export function etcdAccessProblem(access: Readonly<EtcdAccess>): string | null {
  if (access.user !== null && !/^[^:]+:/.test(access.user)) return '--etcd-user must be NAME:PASSWORD';
  if ((access.cert === null) !== (access.key === null)) return '--etcd-cert and --etcd-key go together';
  if (access.cert !== null && access.cacert === null) return '--etcd-cert needs --etcd-cacert (client certificates are a TLS feature)';
  return null;
}
