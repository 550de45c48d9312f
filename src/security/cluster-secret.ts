/**
 * The cluster secret: 32 random bytes every process of one pd-node cluster holds, from which the
 * control plane's CURVE keys and the tcp KV port's proofs are derived. Whoever lacks it cannot
 * register, query, send a page list or write a byte.
 *
 * Decisions:
 * - One host needs no set-up: without `--cluster-secret-file` the secret lives in
 *   `$PD_NODE_CONFIG_DIR` (default `$XDG_CONFIG_HOME/pd-node`, else `~/.config/pd-node`) as
 *   `cluster-secret`, created on first use private to the user (file 0600 in a 0700 directory). Two
 *   processes creating it at once agree: the file is written under a temporary name and linked into
 *   place, and whoever loses the race reads the winner's.
 * - Across hosts: copy that file to every host (any 64 hex digits in a 0600 file will do) and pass
 *   `--cluster-secret-file PATH` (or `PD_NODE_CLUSTER_SECRET_FILE`) on every node, router and registry.
 * - A file that others can read, or that another user owns, is refused: a secret anyone on the host
 *   can read authenticates nobody.
 * - Each use gets its own key (HMAC-SHA256 of the secret and a label), so a key leaked from one use
 *   (say, a CURVE secret key in a core dump) does not give the others.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const SECRET_BYTES = 32;
const FILE_NAME = 'cluster-secret';

export class ClusterSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterSecretError';
  }
}

/** The secret and where it came from (for the start-up log line: the path, never the bytes). */
export interface ClusterSecret {
  readonly key: Buffer;
  readonly source: string;
}

/** Where the default secret lives on this host for this user. */
export function defaultSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.PD_NODE_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'pd-node');
  return join(dir, FILE_NAME);
}

/**
 * The secret from `file` (must exist), else from `PD_NODE_CLUSTER_SECRET_FILE` (must exist), else the
 * default file, created when missing.
 */
export function loadClusterSecret(file: string | null, env: NodeJS.ProcessEnv = process.env): ClusterSecret {
  const named = file ?? env.PD_NODE_CLUSTER_SECRET_FILE ?? null;
  if (named !== null) return { key: readSecretFile(named), source: named };
  const path = defaultSecretPath(env);
  try {
    return { key: readSecretFile(path), source: path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  writeSecretFile(path, randomBytes(SECRET_BYTES));
  return { key: readSecretFile(path), source: path };
}

/** Writes a new secret file at `path` (refuses to replace one). */
export function writeSecretFile(path: string, key: Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

function readSecretFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw Object.assign(new ClusterSecretError(`cluster secret file ${path} does not exist`), { code: 'ENOENT' });
    throw new ClusterSecretError(`cannot read the cluster secret file ${path}: ${e.message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ClusterSecretError(`cluster secret ${path} is not a regular file`);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
      throw new ClusterSecretError(`cluster secret file ${path} belongs to uid ${st.uid}, not to this user (uid ${process.getuid()})`);
    }
    if ((st.mode & 0o077) !== 0) {
      throw new ClusterSecretError(`cluster secret file ${path} can be read by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
    }
    const text = readFileSync(fd, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(text)) throw new ClusterSecretError(`cluster secret file ${path} must hold ${SECRET_BYTES} bytes as 64 hex digits`);
    return Buffer.from(text, 'hex');
  } finally {
    closeSync(fd);
  }
}

/** A key for one use of the secret (`label` names the use, e.g. 'curve-server'). */
export function deriveKey(secret: Buffer, label: string): Buffer {
  return createHmac('sha256', secret).update(`pd-node/${label}`).digest();
}
