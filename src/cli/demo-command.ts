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
import { engineArgs, NODE_FLAGS } from './node-flags.js';
import { logsOf, startPdDeployment } from './pd-deployment.js';

export const DEMO_BASE_OPTIONS: Readonly<NodeOptions> = Object.freeze({ ...DEFAULT_NODE_OPTIONS, host: '127.0.0.1', port: 0, logLevel: 'info' });
export const DEMO_FLAGS = NODE_FLAGS.filter((f) => ['model-path', 'kernel', 'disaggregation-transfer-backend'].includes(f.name));

/** The seed's request, bounded to 32 tokens so it is quick on a CPU. */
const DEMO_REQUEST = Object.freeze({ text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0, max_new_tokens: 32 } });

/** 32 tokens take well under a second on the tiny model; a minute means something is stuck. */
const DEMO_TIMEOUT_MS = 60_000;

export async function runDemo(options: NodeOptions): Promise<void> {
  // Generated once here, so the two nodes do not both generate it.
  const modelPath = options.modelPath ?? (await ensureDefaultModel());
  const deployment = await startPdDeployment(['--model-path', modelPath, ...engineArgs(options.engine), '--disaggregation-transfer-backend', options.transfer.backend], DEMO_TIMEOUT_MS);
  try {
    const url = new URL('/generate', deployment.router.url).href;
    const body = JSON.stringify(DEMO_REQUEST);
    process.stdout.write(`${curlCommand(url, body)}\n`);
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(DEMO_TIMEOUT_MS) });
    const text = await res.text();
    if (!res.ok) throw new Error(`/generate answered HTTP ${res.status}: ${text}`);
    JSON.parse(text); // a 200 that is not JSON is a failure too
    process.stdout.write(`${text}\n`);
  } catch (err) {
    process.stderr.write(`${deployment.processes.map(logsOf).join('')}\n`);
    throw err;
  } finally {
    await deployment.close();
  }
}

/** A POSIX-shell command line; single quotes inside the body are closed, escaped and reopened. */
function curlCommand(url: string, body: string): string {
  return `curl -X POST ${url} -H "Content-Type: application/json" -d '${body.replaceAll("'", `'\\''`)}'`;
}
