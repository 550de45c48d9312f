/**
 * Fault harness: a small network of Linux network namespaces that a test builds, runs pd-node
 * processes in, breaks (partitions, stopped processes) and tears down. For the fault tests of
 * issue 9, and meant to be reused by hostile-peer and cluster tests.
 *
 * API (every call bounded; everything undone by `cleanup()`):
 *   const why = faultNetUnavailable();            // string: skip the test with it; null: go on
 *   const net = await FaultNet.create(['client', 'router', 'prefill', 'decode']);
 *   net.host('router').address                    // 10.213.0.N, assigned by the harness
 *   FaultNet.create(names, { sideNetwork: true })  // each host also on 10.214.0.N, listed before eth0
 *   const node = await net.startNode('router', ['--role', 'router', '--host', net.host('router').address, ...]);
 *   const local = await startLocalNode([...]);     // a node on this host (no namespace), same lifetime rule
 *   const agent = await net.agent('client');      // HTTP from inside a namespace (see fetch-agent.ts)
 *   net.commandIn('e1')                            // prefix to run another program there (etcd)
 *   await net.partition('prefill', 'decode');      // iptables DROP, INPUT and OUTPUT, both sides
 *   await net.heal();                              // removes every partition rule
 *   pause(node) / resume(node)                     // SIGSTOP / SIGCONT (works for host processes too)
 *   await net.cleanup();                           // processes, namespaces (their veths and rules go with them)
 *
 * Decisions:
 * - Topology: one namespace per host plus a "switch" namespace holding a bridge; each host has a
 *   veth `eth0` whose peer is a bridge port in the switch namespace. Nothing is created in the
 *   namespace the test runs in: deleting the namespaces removes every veth, the bridge and every
 *   iptables rule, and no traffic can reach a network outside. Addresses are a fixed /24
 *   (10.213.0.0/24) that exists only inside these namespaces, so runs cannot collide.
 * - Names are `pdfault-<test pid>-<random>-<host>`: unique per run; the pid lets a later run sweep
 *   what a killed run left (namespaces whose owner is gone, and any process still in them).
 * - Processes are started as `ip netns exec NS setpriv --pdeathsig KILL node ...`: both exec in
 *   place, so the pid we hold is the node's (signals go straight to it), and the kernel kills the
 *   node if the test process dies, even by SIGKILL (a stopped one too).
 * - The test process itself stays in the root namespace, where 10.213.0.0/24 does not route; it
 *   talks to the nodes through an agent process in a host namespace (fetch-agent.ts).
 * - `sideNetwork`: each host also gets `side0` on 10.214.0.0/24, created before `eth0` so that it is
 *   the first external interface a process lists (os.networkInterfaces()), as on a host whose first
 *   NIC is another network (issue 10). Its peers sit unbridged in the switch namespace: a network
 *   that reaches none of the other hosts, so an address on it published to them fails.
 * - A partition drops packets both ways on both hosts (INPUT -s peer, OUTPUT -d peer): established
 *   TCP connections stall and retransmit, as across a real broken link; no RST is ever sent.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { startChildNode, stopChildNode, type ChildNode } from '../../src/cli/child-node.js';
import { FetchAgent } from './fetch-agent-client.js';

const run = promisify(execFile);

export const NS_PREFIX = 'pdfault-';
/** Exists only inside the namespaces of one run. */
const SUBNET = '10.213.0';
/** The side network of `sideNetwork`: on every host, connected to none. */
const SIDE_SUBNET = '10.214.0';
/** An `ip`/`iptables` call that takes longer than this is stuck (a kernel lock held by a busy machine). */
const COMMAND_TIMEOUT_MS = 20_000;
/** A node starts in well under a second; a busy 2-core machine that also builds the model may need more. */
const START_TIMEOUT_MS = 60_000;

export interface Host {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  /** With `sideNetwork`: the host's address on the side network (reaches no other host); else null. */
  readonly sideAddress: string | null;
}

export interface FaultNetOptions {
  /** Give every host a second interface on another network, listed first (see the header). */
  sideNetwork?: boolean;
}

/** Why the fault tests cannot run here (skip with this), or null. */
export function faultNetUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'fault tests need root (network namespaces, iptables); run them as root, as CI does';
  for (const tool of ['ip', 'iptables', 'setpriv']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `fault tests need ${tool} (apt-get install iproute2 iptables util-linux)`;
    }
  }
  return null;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: COMMAND_TIMEOUT_MS })).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

function listNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name.startsWith(NS_PREFIX));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Kills every process in `ns` and deletes it (synchronous: also usable from an 'exit' handler). */
function destroyNamespace(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // deleted concurrently, or never fully made: nothing left to remove
  }
}

/** Removes namespaces (and their processes) left by runs whose test process is gone. */
export function sweepLeftovers(): string[] {
  const swept: string[] = [];
  for (const ns of listNamespaces()) {
    const owner = Number(/^pdfault-(\d+)-/.exec(ns)?.[1]);
    if (!Number.isInteger(owner) || pidAlive(owner)) continue;
    destroyNamespace(ns);
    swept.push(ns);
  }
  return swept;
}

/** SIGSTOP: the process keeps its sockets (the kernel still ACKs bytes into its buffers) but does nothing. */
export function pause(node: ChildNode): void {
  node.child.kill('SIGSTOP');
}

export function resume(node: ChildNode): void {
  node.child.kill('SIGCONT');
}

/** Prefix of every command the harness starts: the kernel kills it when the test process dies. */
const DIE_WITH_TEST = ['setpriv', '--pdeathsig', 'KILL', '--'];

/** Starts `pd-node ARGS` under `command` (a prefix ending where `node` goes), up once its log says it listens. */
function spawnNode(command: readonly string[], args: string[], where: string): Promise<ChildNode> {
  return startChildNode(args, START_TIMEOUT_MS, { prefix: command, where });
}

/** Starts `pd-node ARGS` on this host (no namespace), killed by the kernel if the test process dies. */
export function startLocalNode(args: string[]): Promise<ChildNode> {
  return spawnNode(DIE_WITH_TEST, args, 'on this host');
}

interface Rule {
  ns: string;
  args: string[];
}

export class FaultNet {
  private readonly hosts = new Map<string, Host>();
  private readonly switchNs: string;
  private readonly rules: Rule[] = [];
  private readonly processes = new Set<ChildNode>();
  private readonly agents = new Set<FetchAgent>();
  private readonly onExit = (): void => this.destroySync();
  private closed = false;

  private constructor(private readonly runId: string) {
    this.switchNs = `${runId}-sw`;
  }

  /** Hosts named `names` (short words), addresses .1, .2, ... in that order, all on one bridge. */
  static async create(names: readonly string[], options: FaultNetOptions = {}): Promise<FaultNet> {
    sweepLeftovers();
    const net = new FaultNet(`${NS_PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`);
    process.once('exit', net.onExit);
    try {
      await net.build(names, options.sideNetwork === true);
    } catch (err) {
      await net.cleanup();
      throw err;
    }
    return net;
  }

  private async build(names: readonly string[], sideNetwork: boolean): Promise<void> {
    await sh('ip', ['netns', 'add', this.switchNs]);
    await sh('ip', ['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    for (const [i, name] of names.entries()) {
      const host: Host = { name, ns: `${this.runId}-${name}`, address: `${SUBNET}.${i + 1}`, sideAddress: sideNetwork ? `${SIDE_SUBNET}.${i + 1}` : null };
      this.hosts.set(name, host);
      const port = `p${i}`;
      await sh('ip', ['netns', 'add', host.ns]);
      await sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
      if (host.sideAddress !== null) {
        const sidePeer = `s${i}`;
        await sh('ip', ['link', 'add', 'side0', 'netns', host.ns, 'type', 'veth', 'peer', 'name', sidePeer, 'netns', this.switchNs]);
        await sh('ip', ['-n', this.switchNs, 'link', 'set', sidePeer, 'up']);
        await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.sideAddress}/24`, 'dev', 'side0']);
        await sh('ip', ['-n', host.ns, 'link', 'set', 'side0', 'up']);
      }
      await sh('ip', ['link', 'add', 'eth0', 'netns', host.ns, 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs]);
      await sh('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
      await sh('ip', ['-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
    }
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in this fault net (${[...this.hosts.keys()].join(', ')})`);
    return host;
  }

  /** The argv that runs a command inside `host`, dying with the test process. */
  private inHost(host: string): string[] {
    return ['ip', 'netns', 'exec', this.host(host).ns, ...DIE_WITH_TEST];
  }

  /**
   * The command prefix that runs another program inside `host` (etcd: test/helpers/etcd.ts), dying
   * with the test process; `cleanup()` kills whatever still runs in the namespace.
   */
  commandIn(host: string): string[] {
    return this.inHost(host);
  }

  /** Starts `pd-node ARGS` inside `host`; the flags must make it reachable (--host the host's address). */
  async startNode(host: string, args: string[]): Promise<ChildNode> {
    const node = await spawnNode(this.inHost(host), args, `in ${host}`);
    this.processes.add(node);
    return node;
  }

  /** An HTTP client living in `host` (see fetch-agent.ts). */
  async agent(host: string): Promise<FetchAgent> {
    const agent = await FetchAgent.start(this.inHost(host));
    this.agents.add(agent);
    return agent;
  }

  /** Drops every packet between hosts `a` and `b`, both directions, on both hosts. */
  async partition(a: string, b: string): Promise<void> {
    const [ha, hb] = [this.host(a), this.host(b)];
    for (const [self, peer] of [[ha, hb], [hb, ha]] as const) {
      for (const args of [['INPUT', '-s', peer.address, '-j', 'DROP'], ['OUTPUT', '-d', peer.address, '-j', 'DROP']]) {
        await sh('ip', ['netns', 'exec', self.ns, 'iptables', '-w', '-A', ...args]);
        this.rules.push({ ns: self.ns, args });
      }
    }
  }

  /** Removes every partition rule. */
  async heal(): Promise<void> {
    while (this.rules.length > 0) {
      const rule = this.rules.pop()!;
      await sh('ip', ['netns', 'exec', rule.ns, 'iptables', '-w', '-D', ...rule.args]);
    }
  }

  /** Stops every process (resumed first if paused), then deletes the namespaces. */
  async cleanup(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.agents].map((a) => a.close()));
    await Promise.all(
      [...this.processes].map((p) => {
        resume(p);
        return stopChildNode(p, 'SIGTERM', 5_000);
      }),
    );
    this.destroySync();
    process.off('exit', this.onExit);
  }

  private destroySync(): void {
    for (const host of this.hosts.values()) destroyNamespace(host.ns);
    destroyNamespace(this.switchNs);
  }
}
