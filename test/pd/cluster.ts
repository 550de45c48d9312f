/**
 * A PD cluster of real processes for tests: a router hosting the registry (or reading the membership
 * a `--registry-url` in `routerExtra` names: etcd), prefill and decode nodes registered with it, and
 * helpers to add or kill nodes. Nodes find each other through the registry, as in the demo.
 */
import type { ChildNodeSpawn } from '../../src/cli/child-node.js';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import type { TransferBackendName } from '../../src/transfer/backends.js';
import { getJson, killProcess, startProcess, type NodeProcess } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

export interface Cluster {
  router: NodeProcess;
  modelPath: string;
  backend: string;
  /** `spawnAs`: how the node's process is started (a network namespace, a preloaded fault). */
  addNode(role: 'prefill' | 'decode', extra?: string[], spawnAs?: ChildNodeSpawn): Promise<NodeProcess>;
  /** Waits until the live nodes the router lists are exactly `nodes` (dead ones expired, new ones joined). */
  waitForNodes(nodes: NodeProcess[], ms?: number): Promise<void>;
  kill(node: NodeProcess): Promise<void>;
}

export async function startCluster(backend: TransferBackendName, routerExtra: string[] = []): Promise<Cluster> {
  const modelPath = await ensureDefaultModel();
  // The router hosts the registry unless the test names membership kept elsewhere (etcd).
  const hosting = routerExtra.includes('--registry-url') ? [] : ['--registry-port', '0'];
  const router = await startProcess(['--role', 'router', '--pd-disaggregation', '--host', '127.0.0.1', '--port', '0', ...hosting, '--registry-poll-ms', '100', '--log-level', 'info', ...routerExtra]);
  if (!router.registryUrl) throw new Error(`router did not say where its registry is:\n${router.logs.join('\n')}`);
  const cluster: Cluster = {
    router,
    modelPath,
    backend,
    addNode(role, extra = [], spawnAs) {
      const args = ['--role', role, '--disaggregation-transfer-backend', backend, '--registry-url', router.registryUrl!, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'];
      // The cluster's model unless the test names another (a GGUF file of it, say).
      if (!extra.includes('--model-path')) args.push('--model-path', modelPath);
      // Peers are declared lost after 1 s unless the test says otherwise (a load test on a busy host).
      if (!extra.includes('--disaggregation-peer-timeout')) args.push('--disaggregation-peer-timeout', '1');
      if (role === 'prefill' && !extra.includes('--disaggregation-bootstrap-port')) args.push('--disaggregation-bootstrap-port', '0');
      return startProcess([...args, ...extra], undefined, spawnAs);
    },
    async waitForNodes(nodes, ms = 15_000) {
      const want = nodes.map((n) => n.url).sort().join(' ');
      const live = async (): Promise<string> =>
        ((await getJson(`${router.url}/get_server_info`)).router.nodes as { url: string; up: boolean }[]).filter((n) => n.up).map((n) => n.url).sort().join(' ');
      await waitFor(live, (l) => l === want, `router lists [${want}]`, ms);
    },
    kill: (node) => killProcess(node),
  };
  return cluster;
}
