/**
 * The seed documents' SGLang command lines (../shared/seeds/000_*.txt, 004_*.txt), copied here
 * verbatim, run as `pd-node` processes and serving the seed's request. What the test substitutes,
 * as the seed's shell or the machine dictates, and nothing else:
 * - the shell variables: $MODEL_PATH and the hub id of seed 004 name models in a fake Hugging Face
 *   cache this test makes ($HF_HOME/hub, holding generated tiny models as `huggingface-cli
 *   download` lays a snapshot out: refs/main, snapshots/<hash>/ of links into blobs/), host_ip and
 *   MASTER_ADDR* are 127.0.0.1, IBDEVICES is the seed's list (this host has no RDMA devices);
 * - ports: the seed's fixed ports become 0 (picked at run time), the prefill's bootstrap port
 *   (SGLang's default 8998, not on the seed's line) becomes 0 and the router is told the one bound,
 *   the router's registry port becomes 0; `2>&1 | tee FILE` is the shell's, not the program's;
 * - `python3 -m sglang.launch_server` / `python -m sglang_router.launch_router` is `pd-node` /
 *   `pd-node --role router`. Seed 004's load balancer is SGLang's mini_lb (Python, not here): its
 *   `--prefill URL --decode URL --host --port` line is given to `pd-node --role router`.
 * Seed 000's `--tp 8` runs as written: its model (the `tiny-8kv` preset) has 8 KV heads, so each
 * node runs 8 rank threads.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDefaultModel } from '../../src/model/default-model.js';
import { genModel } from '../../src/model/gen-model.js';
import { repoFolderName } from '../../src/model/hf-cache.js';
import { getJson, postJson, startProcess, stopAll, type NodeProcess } from '../helpers/processes.js';

/** Seed 000 (RDMA Need To Know / Run SGLang): the prefill, decode and proxy commands, verbatim. */
const SEED_000 = {
  vars: 'MODEL_PATH="/workspace/models/deepseek-ai/DeepSeek-V3"\nIBDEVICES="mlx5_0,mlx5_2,mlx5_3,mlx5_4,mlx5_5,mlx5_7,mlx5_8,mlx5_9"\nhost_ip="xx.xx.xx.xx"',
  prefill: `python3 -m sglang.launch_server --model-path $MODEL_PATH \\
                        --disaggregation-mode prefill --disaggregation-ib-device \${IBDEVICES} \\
                        --host \${host_ip} --port 30000  --trust-remote-code  \\
                        --tp 8 2>&1 | tee server_prefill_log.txt`,
  decode: `python3 -m sglang.launch_server --model-path $MODEL_PATH \\
    --disaggregation-mode decode --disaggregation-ib-device \${IBDEVICES} \\
    --host \${host_ip} --port 30001 --trust-remote-code \\
    --tp 8  2>&1 | tee server_decode_log.txt`,
  router: `python -m sglang_router.launch_router --pd-disaggregation \\
        --prefill http://\${MASTER_ADDR}:30000 \\
        --decode http://\${MASTER_ADDR_DECODE}:30001 \\
        --host 127.0.0.1 --port 8000`,
};

/** Seed 004 (pyverbs PD demo, Usage): terminals 1-4, verbatim. */
const SEED_004 = {
  prefill: 'python -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct --disaggregation-mode prefill --port 30000',
  decode: 'python -m sglang.launch_server --model-path meta-llama/Llama-3.1-8B-Instruct --disaggregation-mode decode --port 30001 --base-gpu-id 1',
  lb: 'python3 -m sglang.srt.disaggregation.mini_lb --prefill http://0.0.0.0:30000 --decode http://0.0.0.0:30001 --host 0.0.0.0 --port 8000',
  request: { text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0 } },
};

/** The shell's view of a command line: variables expanded, continuations joined, the redirection dropped, split into words. */
function words(command: string, vars: Readonly<Record<string, string>>): string[] {
  const expanded = command.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    assert.ok(name in vars, `the test sets $${name}`);
    return vars[name];
  });
  return expanded.replace(/\\\n/g, ' ').split(/\s+(?:2>&1\s*)?\|\s*tee\s+\S+/)[0].trim().split(/\s+/);
}

/** Drops the Python launcher (`python3 -m module`); the rest is pd-node's argv. */
function programArgs(argv: string[], module: string): string[] {
  assert.match(argv[0], /^python3?$/);
  assert.deepEqual(argv.slice(1, 3), ['-m', module]);
  return argv.slice(3);
}

/** `--port N` -> `--port 0`; `--port` must be there (the seed's fixed port). */
function anyPort(args: string[]): string[] {
  const at = args.indexOf('--port');
  assert.ok(at >= 0 && /^\d+$/.test(args[at + 1]), 'the seed gives --port');
  return args.map((w, i) => (i === at + 1 ? '0' : w));
}

/** A prefill node's arguments with a bootstrap port picked at run time (the seed leaves SGLang's default). */
function withRunTimeBootstrapPort(args: string[]): string[] {
  assert.ok(!args.includes('--disaggregation-bootstrap-port'));
  return [...args, '--disaggregation-bootstrap-port', '0'];
}

/** A router's arguments with the seed's node URLs pointed at the nodes started, and its registry on a free port. */
function routerArgs(args: string[], prefill: NodeProcess, decode: NodeProcess, seedPorts: { prefill: string; decode: string }): string[] {
  const out: string[] = ['--role', 'router'];
  for (let i = 0; i < args.length; i++) {
    const w = args[i];
    if (args[i - 1] === '--prefill') {
      assert.ok(w.endsWith(`:${seedPorts.prefill}`), w);
      out.push(prefill.url, String(prefill.bootstrapPort));
    } else if (args[i - 1] === '--decode') {
      assert.ok(w.endsWith(`:${seedPorts.decode}`), w);
      out.push(decode.url);
    } else out.push(w);
  }
  return [...anyPort(out), '--registry-port', '0'];
}

/** A fake Hugging Face hub cache under `home`/hub with `repoIds`, each a snapshot of `modelDir` laid out as huggingface_hub does. */
function fakeHfCache(home: string, modelDir: string, repoIds: string[]): void {
  for (const repoId of repoIds) {
    const repo = join(home, 'hub', repoFolderName(repoId));
    const hash = createHash('sha1').update(repoId).digest('hex');
    const snapshot = join(repo, 'snapshots', hash);
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(join(repo, 'refs'));
    mkdirSync(snapshot, { recursive: true });
    for (const file of readdirSync(modelDir)) {
      const bytes = readFileSync(join(modelDir, file));
      const blob = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(repo, 'blobs', blob), bytes);
      symlinkSync(join('..', '..', 'blobs', blob), join(snapshot, file));
    }
    writeFileSync(join(repo, 'refs', 'main'), hash);
  }
}

/** The seed's request through the router: a 200 with generated text, as the seed's curl shows. */
async function assertServesSeedRequest(routerUrl: string): Promise<void> {
  const res = await postJson(`${routerUrl}/generate`, SEED_004.request);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(typeof res.body.text, 'string');
  assert.ok(res.body.meta_info.prompt_tokens > 0);
  assert.ok(res.body.meta_info.completion_tokens >= 1);
  assert.ok(['length', 'stop'].includes(res.body.meta_info.finish_reason.type));
}

function logOf(node: NodeProcess): string {
  return node.logs.join('\n');
}

describe('the seed command lines run as pd-node', () => {
  let home: string;
  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'pd-node-hf-home-'));
    // Seed 000 runs --tp 8: its model has 8 KV heads to split (the default tiny model has 2).
    fakeHfCache(home, genModel({ outDir: join(home, 'tiny-8kv'), preset: 'tiny-8kv' }), ['deepseek-ai/DeepSeek-V3']);
    fakeHfCache(home, await ensureDefaultModel(), ['meta-llama/Llama-3.1-8B-Instruct']);
    // The children inherit it: the hub ids resolve from this cache only.
    process.env.HF_HOME = home;
    delete process.env.HF_HUB_CACHE;
    delete process.env.HUGGINGFACE_HUB_CACHE;
  });
  after(async () => {
    await stopAll();
    rmSync(home, { recursive: true, force: true });
  });

  test('seed 000: the prefill and decode launch_server lines and the sgl-router line serve a request', async () => {
    // The seed's MODEL_PATH is a directory on the seed's machine; here the same model is a hub id in the cache.
    const vars = { MODEL_PATH: 'deepseek-ai/DeepSeek-V3', IBDEVICES: 'mlx5_0,mlx5_2,mlx5_3,mlx5_4,mlx5_5,mlx5_7,mlx5_8,mlx5_9', host_ip: '127.0.0.1', MASTER_ADDR: '127.0.0.1', MASTER_ADDR_DECODE: '127.0.0.1' };
    const node = (command: string): string[] => anyPort(programArgs(words(command, vars), 'sglang.launch_server'));
    const [prefill, decode] = await Promise.all([startProcess(withRunTimeBootstrapPort(node(SEED_000.prefill))), startProcess(node(SEED_000.decode))]);
    for (const n of [prefill, decode]) {
      assert.match(logOf(n), /accepted for compatibility, no effect here: --trust-remote-code/);
      // No backend on the line: pd-node's tcp, and the RDMA device list explains it is unused.
      assert.match(logOf(n), /--disaggregation-ib-device mlx5_0,mlx5_2,.*has no effect: it is a setting of --disaggregation-transfer-backend verbs, and KV moves over tcp/);
      assert.match(logOf(n), /snapshots\/[0-9a-f]{40}/, 'the model came from the fake cache');
      assert.match(logOf(n), /"msg":"scheduler ready"/);
      assert.match(logOf(n), /"tp":8[,}]/, 'the engine runs the seed\'s --tp 8');
    }
    const router = await startProcess(routerArgs(programArgs(words(SEED_000.router, vars), 'sglang_router.launch_router'), prefill, decode, { prefill: '30000', decode: '30001' }));
    await assertServesSeedRequest(router.url);
    const models = await getJson(`${prefill.url}/v1/models`);
    assert.equal(models.data[0].id, 'deepseek-ai/DeepSeek-V3', 'served under the hub id, as SGLang names it');
  });

  test('seed 004: the hub-id launch_server lines (one with --base-gpu-id) behind a router given the mini_lb line serve the seed\'s curl', async () => {
    const node = (command: string): string[] => anyPort(programArgs(words(command, {}), 'sglang.launch_server'));
    const [prefill, decode] = await Promise.all([startProcess(withRunTimeBootstrapPort(node(SEED_004.prefill))), startProcess(node(SEED_004.decode))]);
    assert.match(logOf(decode), /accepted for compatibility, no effect here: --base-gpu-id/);
    assert.doesNotMatch(logOf(prefill), /accepted for compatibility/, 'nothing to report on the prefill line');
    const lb = words(SEED_004.lb, {});
    assert.deepEqual(lb.slice(0, 3), ['python3', '-m', 'sglang.srt.disaggregation.mini_lb']);
    // mini_lb listens on the host given (0.0.0.0); the test keeps to 127.0.0.1.
    const lbArgs = lb.slice(3).map((w, i, all) => (all[i - 1] === '--host' ? '127.0.0.1' : w));
    const router = await startProcess(routerArgs(lbArgs, prefill, decode, { prefill: '30000', decode: '30001' }));
    await assertServesSeedRequest(router.url);
  });
});
