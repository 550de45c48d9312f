/**
 * SGLang's launch_server flags on pd-node: every no-effect flag parses as SGLang's argparse takes
 * it and is reported once at start-up; the RDMA device list explains itself when unused; the
 * implemented table names real node flags; docs/sglang-compatibility.md lists every flag.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS, parseNodeFlags } from '../../src/cli/node-flags.js';
import { SGLANG_IMPLEMENTED, SGLANG_NO_EFFECT_FLAGS, startupWarnings } from '../../src/cli/sglang-flags.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../../src/node/options.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const DOC = fileURLToPath(new URL('../../../docs/sglang-compatibility.md', import.meta.url));

/** The words SGLang users type for a no-effect flag. */
function typed(name: string, arity: 'switch' | 'value' | 'list'): string[] {
  return arity === 'switch' ? [`--${name}`] : arity === 'value' ? [`--${name}`, '1'] : [`--${name}`, '1', '2', '4'];
}

describe('SGLang launch_server flags', () => {
  test('every no-effect flag (and alias) parses as SGLang takes it, changes no option, and is named in the start-up warning', () => {
    for (const f of SGLANG_NO_EFFECT_FLAGS) {
      for (const name of [f.name, ...(f.aliases ?? [])]) {
        const argv = [...typed(name, f.arity), '--port', '0'];
        assert.deepEqual(parseNodeFlags(argv), { ...DEFAULT_NODE_OPTIONS, port: 0 }, name);
      }
    }
    const argv = { 'trust-remote-code': true, 'base-gpu-id': '1', dp: '2', 'dp-size': '2', 'cuda-graph-bs': ['1', '2'] };
    assert.deepEqual(startupWarnings(argv, DEFAULT_NODE_OPTIONS), [
      'accepted for compatibility, no effect here: --trust-remote-code, --base-gpu-id, --dp-size, --cuda-graph-bs (docs/sglang-compatibility.md says why)',
    ]);
    assert.deepEqual(startupWarnings({}, DEFAULT_NODE_OPTIONS), []);
  });

  test('--disaggregation-ib-device warns when KV does not move over verbs, and not when it does', () => {
    const argv = { 'disaggregation-ib-device': 'mlx5_0,mlx5_2' };
    const at = (role: NodeOptions['role'], backend: string): string[] => startupWarnings(argv, { ...DEFAULT_NODE_OPTIONS, role, transfer: defaultTransferConfig(backend) });
    assert.match(at('prefill', 'tcp').join('\n'), /^--disaggregation-ib-device mlx5_0,mlx5_2 has no effect: it is a setting of --disaggregation-transfer-backend verbs, and KV moves over tcp/);
    assert.match(at('decode', 'shm').join('\n'), /and KV moves over shm/);
    assert.match(at('colocated', 'verbs').join('\n'), /a colocated node transfers no KV/);
    assert.deepEqual(at('prefill', 'verbs'), []);
  });

  test('the command exits 2 for SGLang backends naming verbs, and 1 for a hub id not in the cache, saying where it looked and what to do', () => {
    const backend = spawnSync(process.execPath, [MAIN, '--disaggregation-mode', 'prefill', '--disaggregation-transfer-backend', 'nixl'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(backend.status, 2);
    assert.match(backend.stderr, /--disaggregation-transfer-backend nixl is SGLang's; pd-node's equivalent is --disaggregation-transfer-backend verbs/);
    const env = { ...process.env, HF_HOME: '/nonexistent/hf-home', HF_HUB_CACHE: '', HUGGINGFACE_HUB_CACHE: '' };
    const miss = spawnSync(process.execPath, [MAIN, '--model-path', 'meta-llama/Llama-3.1-8B-Instruct', '--port', '0'], { encoding: 'utf8', timeout: 60_000, env });
    assert.equal(miss.status, 1);
    assert.match(miss.stderr, /--model-path meta-llama\/Llama-3\.1-8B-Instruct: not a local directory, and the Hugging Face cache has no copy of it at revision main/);
    assert.match(miss.stderr, /no \/nonexistent\/hf-home\/hub\/models--meta-llama--Llama-3\.1-8B-Instruct\/refs\/main/);
    assert.match(miss.stderr, /from \$HF_HOME\/hub/);
    assert.match(miss.stderr, /huggingface-cli download meta-llama\/Llama-3\.1-8B-Instruct/);
    assert.match(miss.stderr, /--engine synthetic --model-shape SHAPE/);
  });

  test('seed 000\'s device list with verbs on a host without RDMA fails at start-up saying what is missing and what works instead', { skip: process.env.SOFTROCE_GUEST === '1' ? 'the VM has an RDMA device' : false }, () => {
    const args = ['--disaggregation-mode', 'prefill', '--disaggregation-transfer-backend', 'verbs', '--disaggregation-ib-device', 'mlx5_0,mlx5_2', '--port', '0', '--disaggregation-bootstrap-port', '0'];
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /The verbs transfer backend needs an RDMA device; --disaggregation-transfer-backend tcp or shm work without RDMA/);
  });

  test('the implemented table names node flags, none of them also a no-effect flag', () => {
    const names = new Set(NODE_FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]));
    const noEffect = new Set(SGLANG_NO_EFFECT_FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]));
    for (const name of Object.keys(SGLANG_IMPLEMENTED)) {
      assert.ok(names.has(name), `--${name} is a node flag`);
      assert.ok(!noEffect.has(name), `--${name} is not also a no-effect flag`);
    }
  });

  test('docs/sglang-compatibility.md lists every flag under "## launch_server flags"', () => {
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf('## launch_server flags');
    assert.ok(start >= 0, 'the section exists');
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    for (const name of [...Object.keys(SGLANG_IMPLEMENTED), ...SGLANG_NO_EFFECT_FLAGS.map((f) => f.name)]) {
      assert.ok(section.includes(`\`--${name}\``), `--${name} documented`);
    }
  });
});
