/**
 * A PD cluster of real processes for tests: a router hosting the registry, prefill and decode nodes
 * registered with it, and helpers to add or kill nodes. Nodes find each other through the
 * registry, as in the demo.
 */
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { getJson, killProcess, startProcess, type NodeProcess } from '../helpers/processes.js';

export interface Cluster {
  router: NodeProcess;
  modelPath: string;
  backend: string;
  addNode(role: 'prefill' | 'decode', extra?: string[]): Promise<NodeProcess>;
  /** Waits until the router lists exactly these many live nodes per role. */
  waitForNodes(prefill: number, decode: number, ms?: number): Promise<void>;
  kill(node: NodeProcess): Promise<void>;
}

export async function startCluster(backend: 'tcp' | 'shm', routerExtra: string[] = []): Promise<Cluster> {
  const modelPath = await ensureDefaultModel();
  const router = await startProcess(['--role', 'router', '--pd-disaggregation', '--host', '127.0.0.1', '--port', '0', '--registry-port', '0', '--registry-poll-ms', '100', '--log-level', 'info', ...routerExtra]);
  if (!router.registryUrl) throw new Error(`router did not say where its registry is:\n${router.logs.join('\n')}`);
  const cluster: Cluster = {
    router,
    modelPath,
    backend,
    addNode(role, extra = []) {
      const args = ['--role', role, '--model-path', modelPath, '--disaggregation-transfer-backend', backend, '--registry-url', router.registryUrl!, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--disaggregation-peer-timeout', '1'];
      if (role === 'prefill') args.push('--disaggregation-bootstrap-port', '0');
      return startProcess([...args, ...extra]);
    },
    async waitForNodes(prefill, decode, ms = 15_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const info = await getJson(`${router.url}/get_server_info`);
        const nodes = info.router.nodes as { role: string; up: boolean }[];
        const count = (role: string) => nodes.filter((n) => n.role === role && n.up !== false).length;
        if (count('prefill') === prefill && count('decode') === decode) return;
        if (Date.now() > deadline) throw new Error(`router sees ${count('prefill')} prefill / ${count('decode')} decode, want ${prefill} / ${decode}: ${JSON.stringify(info)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill: (node) => killProcess(node),
  };
  return cluster;
}
