/**
 * etcd members for tests (Debian's etcd-server, 3.4): each on ports chosen at run time, its data
 * dir in a fresh temp dir removed when it stops. `startEtcdCluster` starts every member of one
 * cluster (a single one is a cluster of one); `prefix` runs a member elsewhere (`ip netns exec NS`).
 * Up = its /health answers {"health":"true"}, which needs a quorum, asked through `http` (from this
 * process, or an agent in a namespace: fault-net.ts); every wait is bounded.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from '../../src/util/timeout.js';
import { timedFetch, type HttpClient } from '../fault/timed-fetch.js';

/** Start-up of a member on a busy 2-core host takes about a second; 30x margin. */
const ETCD_START_MS = 30_000;
const ETCD_STOP_MS = 10_000;

export interface EtcdMember {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly logs: string[];
}

export interface EtcdMemberSpec {
  name: string;
  host: string;
  clientPort: number;
  peerPort: number;
  prefix?: readonly string[];
}

/** Why etcd tests cannot run here, or null. Root (CI) must have it: a missing binary there fails. */
export function etcdMissing(): string | null {
  if (spawnSync('etcd', ['--version']).status === 0) return null;
  if (process.getuid?.() === 0) throw new Error('etcd not found: install etcd-server (.ci/run does)');
  return 'etcd not found (apt-get install etcd-server); skipped';
}

export function etcdUrl(members: readonly { host: string; clientPort: number }[]): string {
  return `etcd://${members.map((m) => `${m.host}:${m.clientPort}`).join(',')}`;
}

export async function startEtcdCluster(specs: readonly EtcdMemberSpec[], http: HttpClient = { request: timedFetch }): Promise<EtcdMember[]> {
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
  const members = specs.map((s) => spawnMember(s, initialCluster));
  try {
    await Promise.all(members.map((m) => waitHealthy(m, http)));
  } catch (err) {
    await Promise.all(members.map((m) => stopEtcd(m)));
    throw err;
  }
  return members;
}

const dataDirs = new Map<EtcdMember, string>();

function spawnMember(spec: EtcdMemberSpec, initialCluster: string): EtcdMember {
  const dataDir = mkdtempSync(join(tmpdir(), `pd-node-etcd-${spec.name}-`));
  const client = `http://${spec.host}:${spec.clientPort}`;
  const peer = `http://${spec.host}:${spec.peerPort}`;
  const command = [...(spec.prefix ?? []), 'etcd', '--name', spec.name, '--data-dir', dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', 'pd-node-test',
    '--log-level', 'warn', '--logger', 'zap'];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => logs.push(...chunk.split('\n').filter((l) => l !== '')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const member: EtcdMember = { name: spec.name, host: spec.host, clientPort: spec.clientPort, child, exited, logs };
  dataDirs.set(member, dataDir);
  return member;
}

async function waitHealthy(m: EtcdMember, http: HttpClient): Promise<void> {
  const deadline = Date.now() + ETCD_START_MS;
  for (;;) {
    if (m.child.exitCode !== null) throw new Error(`etcd ${m.name} exited with ${m.child.exitCode}:\n${m.logs.join('\n')}`);
    const res = await http.request({ url: `http://${m.host}:${m.clientPort}/health`, timeoutMs: 2000 });
    if (res.status === 200 && /"health":\s*"true"/.test(res.text)) return;
    if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy within ${ETCD_START_MS / 1000} s:\n${m.logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Ends the member (SIGKILL by default: a crash) and removes its data dir. */
export async function stopEtcd(m: EtcdMember, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill(signal);
  await withTimeout(m.exited, ETCD_STOP_MS, `etcd ${m.name} exit`);
  const dir = dataDirs.get(m);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dataDirs.delete(m);
}
