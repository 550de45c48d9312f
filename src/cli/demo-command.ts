/**
 * `pd-node demo`: the README's main job. Starts a colocated node on a free port (default model unless
 * --model-path), sends the SGLang docs' /generate request over real HTTP, prints the request as a curl
 * command line and the JSON response on stdout, and stops the node. Any failure (node start, HTTP
 * status, timeout) rejects, so the CLI exits non-zero. Node logs go to stderr at `warn` unless
 * --log-level says otherwise, keeping the output readable.
 */
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../node/options.js';
import { NODE_FLAGS } from './node-flags.js';

export const DEMO_BASE_OPTIONS: Readonly<NodeOptions> = Object.freeze({ ...DEFAULT_NODE_OPTIONS, host: '127.0.0.1', port: 0, logLevel: 'warn' });
export const DEMO_FLAGS = NODE_FLAGS.filter((f) => ['model-path', 'kernel', 'log-level'].includes(f.name));

/** The seed's request, bounded to 32 tokens so it is quick on a CPU. */
const DEMO_REQUEST = Object.freeze({ text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0, max_new_tokens: 32 } });

/** Generation of 32 tokens takes well under a second on the tiny model; a minute means something is stuck. */
const DEMO_REQUEST_TIMEOUT_MS = 60_000;

export async function runDemo(options: NodeOptions): Promise<void> {
  const { startNode } = await import('../node/start-node.js');
  const node = await startNode(options);
  try {
    const url = new URL('/generate', node.url).href;
    const body = JSON.stringify(DEMO_REQUEST);
    process.stdout.write(`${curlCommand(url, body)}\n`);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(DEMO_REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`/generate answered HTTP ${res.status}: ${text}`);
    JSON.parse(text); // a 200 that is not JSON is a failure too
    process.stdout.write(`${text}\n`);
  } finally {
    await node.close();
  }
}

/** A POSIX-shell command line; single quotes inside the body are closed, escaped and reopened. */
function curlCommand(url: string, body: string): string {
  return `curl -X POST ${url} -H "Content-Type: application/json" -d '${body.replaceAll("'", `'\\''`)}'`;
}
