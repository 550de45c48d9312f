/**
 * The built `pd-node` command, spawned as users run it: usage errors, --help, gen-model, demo, and
 * serving until a signal.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/cli/node-flags.js';
import { DEFAULT_NODE_OPTIONS } from '../../src/node/options.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** Bounds a hung command; never asserted on. */
const RUN_TIMEOUT_MS = 120_000;

function run(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
}

describe('pd-node command', () => {
  test('the bin starts with a node shebang', () => {
    assert.match(readFileSync(MAIN, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  test('a bad flag value exits 2 naming the flag', () => {
    const r = run('--page-size', 'abc');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--page-size must be a positive integer \(got "abc"\)/);
    assert.equal(r.stdout, '');
  });

  test('unknown flags, bad PD flags and a missing value exit 2 with a message', () => {
    const cases: [string[], RegExp][] = [
      [['--is-embedding'], /Unknown argument: is-embedding/],
      [['--disaggregation-mode', 'sideways'], /--disaggregation-mode must be one of prefill, decode \(got "sideways"\)/],
      [['--port'], /Not enough arguments following: port/],
      [['gen-model'], /Missing required argument: out/],
      [['gen-model', '--out', '/tmp/x', '--preset', 'huge'], /--preset must be one of tiny, tiny-8kv, small \(got "huge"\)/],
      [['gen-model', '--out', '/tmp/x', '--seed', '-1'], /--seed must be an integer in \[0, 2\^32\) \(got "-1"\)/],
      [['gen-model', '--out', '/tmp/x', '--dtype', 'int8'], /--dtype must be one of float32, float16, bfloat16 \(got "int8"\)/],
      [['demo', '--port', '1'], /Unknown argument: port/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
  });

  test('verbs on a host without RDMA exits at start-up saying what is missing and what works instead', { skip: process.env.SOFTROCE_GUEST === '1' ? 'the VM has an RDMA device' : false }, () => {
    const r = run('--role', 'prefill', '--disaggregation-transfer-backend', 'verbs', '--port', '0');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ibv_get_device_list|libibverbs\.so\.1/);
    assert.match(r.stderr, /--disaggregation-transfer-backend tcp or shm work without RDMA/);
  });

  test('--help documents every node flag with its default, and the subcommands', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const f of NODE_FLAGS) {
      assert.ok(help.includes(`--${f.name} `), `--${f.name} listed`);
      assert.ok(help.includes(`[default: ${f.defaultText(DEFAULT_NODE_OPTIONS)}]`), `default of --${f.name} shown`);
    }
    assert.match(help, /pd-node gen-model/);
    assert.match(help, /pd-node demo/);
    const gen = run('gen-model', '--help').stdout.replace(/\s+/g, ' ');
    for (const name of ['--out', '--preset', '--seed', '--dtype']) assert.ok(gen.includes(name), `gen-model ${name}`);
  });

  test('--role registry --help prints the registry flags and exits without starting a registry', () => {
    const r = run('--role', 'registry', '--help', '--log-level', 'info');
    assert.equal(r.status, 0, r.stderr);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const name of ['--host', '--registry-port', '--cluster-secret-file', '--log-level']) assert.ok(help.includes(name), `${name} listed`);
    assert.doesNotMatch(r.stderr, /registry listening/);
  });

  test('gen-model writes a model directory and prints its path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-node-gen-'));
    try {
      const out = join(dir, 'model');
      const r = run('gen-model', '--out', out, '--seed', '7');
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), out);
      for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) assert.ok(existsSync(join(out, file)), file);
      const again = run('gen-model', '--out', out);
      assert.equal(again.status, 1, 'an existing model is never overwritten');
      assert.match(again.stderr, /not empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('demo prints the curl request and the JSON response, then exits 0', () => {
    const r = run('demo');
    assert.equal(r.status, 0, r.stderr);
    const [curl, response, ...rest] = r.stdout.trimEnd().split('\n');
    assert.deepEqual(rest, []);
    assert.match(curl, /^curl -X POST http:\/\/127\.0\.0\.1:\d+\/generate -H "Content-Type: application\/json" -d '\{.*\}'$/);
    const sent = JSON.parse(curl.slice(curl.indexOf("-d '") + 4, -1));
    assert.deepEqual(sent, { text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0, max_new_tokens: 32 } });
    const json = JSON.parse(response);
    assert.equal(typeof json.text, 'string');
    assert.ok(json.meta_info.completion_tokens >= 1 && json.meta_info.completion_tokens <= 32);
    assert.ok(json.meta_info.prompt_tokens > 0);
    assert.ok(['length', 'stop'].includes(json.meta_info.finish_reason.type));
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`serving logs the URL, answers, and stops cleanly on ${signal}`, async () => {
      const child = spawn(process.execPath, [MAIN, '--role', 'colocated', '--port', '0', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        let url: string | null = null;
        const logs: string[] = [];
        for await (const line of createInterface({ input: child.stderr })) {
          logs.push(line);
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg?.startsWith('serving at') && entry.url) {
            url = entry.url;
            break;
          }
        }
        assert.ok(url, `a log line with the URL; got ${logs.join('\n')}`);
        assert.equal((await fetch(`${url}/health`)).status, 200);
        child.kill(signal);
        assert.equal(await exited, 0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }
});
