/**
 * A PD deployment of real processes on this host: a router hosting the registry, one prefill node
 * and one decode node that find the router through the registry (the seed's three terminals). Used
 * by `pd-node demo` and by `pd-bench serve --launch pd`. Decisions:
 * - Every process listens on a free port (port 0) on 127.0.0.1; the bootstrap and registry ports too.
 * - `nodeArgs` go to both nodes unchanged (model, backend, engine, pool sizes...), so the two sides
 *   always agree; the role, ports and registry URL are this helper's.
 * - Up means the router's /health is 200: it knows a live prefill and a live decode node. If any step
 *   fails, whatever was started is stopped and the error carries their logs.
 */
import { startChildNode, stopChildNode, type ChildNode } from './child-node.js';

export interface PdDeployment {
  readonly router: ChildNode;
  readonly prefill: ChildNode;
  readonly decode: ChildNode;
  /** Router, prefill, decode: for printing their logs after a failure. */
  readonly processes: readonly ChildNode[];
  close(): Promise<void>;
}

export async function startPdDeployment(nodeArgs: readonly string[], timeoutMs: number): Promise<PdDeployment> {
  const started: ChildNode[] = [];
  const start = async (args: string[]): Promise<ChildNode> => {
    const node = await startChildNode(args, timeoutMs);
    started.push(node);
    return node;
  };
  const close = (): Promise<void> => Promise.all(started.map((node) => stopChildNode(node))).then(() => undefined);
  try {
    const router = await start(['--role', 'router', '--pd-disaggregation', '--host', '127.0.0.1', '--port', '0', '--registry-port', '0', '--log-level', 'info']);
    const common = ['--registry-url', router.registryUrl!, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', ...nodeArgs];
    const [prefill, decode] = await Promise.all([start(['--role', 'prefill', '--disaggregation-bootstrap-port', '0', ...common]), start(['--role', 'decode', ...common])]);
    await waitForRouterHealthy(router.url, timeoutMs);
    return { router, prefill, decode, processes: [router, prefill, decode], close };
  } catch (err) {
    await close();
    throw new Error(`${(err as Error).message}${started.map(logsOf).join('')}`);
  }
}

/** A process's kept log lines, headed by its command line. */
export function logsOf(node: ChildNode): string {
  return `\n--- logs of pd-node ${node.args.join(' ')}\n${node.logs.join('\n')}`;
}

/** The router's /health is 200 once it knows a live prefill and a live decode node. */
async function waitForRouterHealthy(routerUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${routerUrl}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
    if (res?.ok) return;
    if (Date.now() > deadline) throw new Error(`the router did not see a prefill and a decode node within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
