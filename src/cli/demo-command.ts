/**
 * `pd-node demo`: the README's main job, the seed workflow in one go. Starts, as separate processes,
 * a router hosting the registry, one prefill node and one decode node (default model unless
 * --model-path; nodes find the router through the registry), waits until the router sees both,
 * sends the SGLang docs' /generate request to the router over real HTTP, prints the request as a
 * curl command line and the JSON response on stdout, and stops the three processes. Their logs are
 * kept and printed only if something fails; any failure exits non-zero.
 */
import { ensureDefaultModel } from '../model/default-model.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../node/options.js';
import { startChildNode, stopChildNode, type ChildNode } from './child-node.js';
import { NODE_FLAGS } from './node-flags.js';

export const DEMO_BASE_OPTIONS: Readonly<NodeOptions> = Object.freeze({ ...DEFAULT_NODE_OPTIONS, host: '127.0.0.1', port: 0, logLevel: 'info' });
export const DEMO_FLAGS = NODE_FLAGS.filter((f) => ['model-path', 'kernel', 'disaggregation-transfer-backend'].includes(f.name));

/** The seed's request, bounded to 32 tokens so it is quick on a CPU. */
const DEMO_REQUEST = Object.freeze({ text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0, max_new_tokens: 32 } });

/** 32 tokens take well under a second on the tiny model; a minute means something is stuck. */
const DEMO_TIMEOUT_MS = 60_000;

export async function runDemo(options: NodeOptions): Promise<void> {
  // Generated once here, so the two nodes do not both generate it.
  const modelPath = options.modelPath ?? (await ensureDefaultModel());
  const started: ChildNode[] = [];
  const start = async (args: string[]): Promise<ChildNode> => {
    const node = await startChildNode(args, DEMO_TIMEOUT_MS);
    started.push(node);
    return node;
  };
  try {
    const router = await start(['--role', 'router', '--pd-disaggregation', '--host', '127.0.0.1', '--port', '0', '--registry-port', '0', '--log-level', 'info']);
    const nodeArgs = ['--model-path', modelPath, '--kernel', options.kernel, '--disaggregation-transfer-backend', options.transferBackend, '--registry-url', router.registryUrl!, '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'];
    await Promise.all([
      start(['--role', 'prefill', '--disaggregation-bootstrap-port', '0', ...nodeArgs]),
      start(['--role', 'decode', ...nodeArgs]),
    ]);
    await waitForHealthy(router.url, DEMO_TIMEOUT_MS);
    const url = new URL('/generate', router.url).href;
    const body = JSON.stringify(DEMO_REQUEST);
    process.stdout.write(`${curlCommand(url, body)}\n`);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(DEMO_TIMEOUT_MS) });
    const text = await res.text();
    if (!res.ok) throw new Error(`/generate answered HTTP ${res.status}: ${text}`);
    JSON.parse(text); // a 200 that is not JSON is a failure too
    process.stdout.write(`${text}\n`);
  } catch (err) {
    for (const node of started) process.stderr.write(`--- logs of pd-node ${node.args.join(' ')}\n${node.logs.join('\n')}\n`);
    throw err;
  } finally {
    await Promise.all(started.map((node) => stopChildNode(node)));
  }
}

/** The router's /health is 200 once it knows a live prefill and a live decode node. */
async function waitForHealthy(routerUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${routerUrl}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
    if (res?.ok) return;
    if (Date.now() > deadline) throw new Error(`the router did not see a prefill and a decode node within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A POSIX-shell command line; single quotes inside the body are closed, escaped and reopened. */
function curlCommand(url: string, body: string): string {
  return `curl -X POST ${url} -H "Content-Type: application/json" -d '${body.replaceAll("'", `'\\''`)}'`;
}
