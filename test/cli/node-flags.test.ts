/**
 * parseNodeFlags: every node flag with good and bad values, and the parser's strictness.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlagError } from '../../src/cli/flag-values.js';
import { engineArgs, NODE_FLAGS, parseNodeFlags } from '../../src/cli/node-flags.js';
import { NO_ETCD_ACCESS } from '../../src/membership/etcd-access.js';
import { DEFAULT_NODE_OPTIONS, type NodeOptions } from '../../src/node/options.js';
import { TRANSFER_BACKEND_NAMES } from '../../src/transfer/backends.js';
import { SHM_BACKEND } from '../../src/transfer/shm/descriptor.js';

/** [flag, value, the option it sets, the expected value, flags it needs and what they set]. */
const ETCD = 'etcd://10.0.0.5:2379';

const GOOD: [string, string, keyof NodeOptions, unknown, { argv: string[]; opts: Partial<NodeOptions> }?][] = [
  ['role', 'colocated', 'role', 'colocated'],
  ['disaggregation-mode', 'null', 'role', 'colocated'],
  ['role', 'prefill', 'role', 'prefill'],
  ['role', 'decode', 'role', 'decode'],
  ['disaggregation-mode', 'prefill', 'role', 'prefill'],
  ['disaggregation-mode', 'decode', 'role', 'decode'],
  ['disaggregation-transfer-backend', 'shm', 'transfer', { backend: 'shm', settings: SHM_BACKEND.defaults }],
  ['disaggregation-transfer-backend', 'tcp', 'transfer', { backend: 'tcp', settings: { sendBufferBytes: 262144 } }],
  ['disaggregation-transfer-backend', 'verbs', 'transfer', { backend: 'verbs', settings: { ibDevices: null } }],
  ['registry-url', 'tcp://127.0.0.1:5555', 'registryUrl', 'tcp://127.0.0.1:5555'],
  ['registry-url', 'etcd://10.0.0.5:2379,10.0.0.6:2379', 'registryUrl', 'etcd://10.0.0.5:2379,10.0.0.6:2379'],
  ['etcd-user', 'pd:secret', 'etcd', { ...NO_ETCD_ACCESS, user: 'pd:secret' }, { argv: ['--registry-url', ETCD], opts: { registryUrl: ETCD } }],
  ['etcd-cacert', 'ca.pem', 'etcd', { ...NO_ETCD_ACCESS, cacert: 'ca.pem' }, { argv: ['--registry-url', ETCD], opts: { registryUrl: ETCD } }],
  ['etcd-cert', 'c.pem', 'etcd', { user: null, cacert: 'ca.pem', cert: 'c.pem', key: 'k.pem' }, { argv: ['--registry-url', ETCD, '--etcd-cacert', 'ca.pem', '--etcd-key', 'k.pem'], opts: { registryUrl: ETCD } }],
  ['etcd-key', 'k.pem', 'etcd', { user: null, cacert: 'ca.pem', cert: 'c.pem', key: 'k.pem' }, { argv: ['--registry-url', ETCD, '--etcd-cacert', 'ca.pem', '--etcd-cert', 'c.pem'], opts: { registryUrl: ETCD } }],
  ['cluster-secret-file', '/etc/pd-node/secret', 'clusterSecretFile', '/etc/pd-node/secret'],
  ['disaggregation-ib-device', 'mlx5_0,mlx5_2', 'transfer', { backend: 'verbs', settings: { ibDevices: ['mlx5_0', 'mlx5_2'] } }, { argv: ['--disaggregation-transfer-backend', 'verbs'], opts: {} }],
  ['disaggregation-ib-device', 'rxe0', 'transfer', { backend: 'verbs', settings: { ibDevices: ['rxe0'] } }, { argv: ['--disaggregation-transfer-backend', 'verbs'], opts: {} }],
  ['shm-copy-threads', '3', 'transfer', { backend: 'shm', settings: { copyThreads: 3 } }, { argv: ['--disaggregation-transfer-backend', 'shm'], opts: {} }],
  ['tcp-send-buffer', '1048576', 'transfer', { backend: 'tcp', settings: { sendBufferBytes: 1048576 } }, { argv: ['--disaggregation-transfer-backend', 'tcp'], opts: {} }],
  ['tcp-send-buffer', '0', 'transfer', { backend: 'tcp', settings: { sendBufferBytes: 0 } }, { argv: ['--disaggregation-transfer-backend', 'tcp'], opts: {} }],
  ['disaggregation-bootstrap-port', '8998', 'bootstrapPort', 8998],
  ['disaggregation-bootstrap-timeout', '2.5', 'bootstrapTimeoutSecs', 2.5],
  ['disaggregation-transfer-timeout', '10', 'transferTimeoutSecs', 10],
  ['disaggregation-peer-timeout', '0.5', 'peerTimeoutSecs', 0.5],
  ['model-path', '/models/llama', 'modelPath', '/models/llama'],
  ['served-model-name', 'meta-llama/Llama-3.1-8B', 'servedModelName', 'meta-llama/Llama-3.1-8B'],
  ['api-key', 'sk-abc', 'apiKey', 'sk-abc'],
  ['host', '0.0.0.0', 'host', '0.0.0.0'],
  ['advertise-host', '10.1.2.3', 'advertiseHost', '10.1.2.3'],
  ['advertise-host', 'node-a.example', 'advertiseHost', 'node-a.example'],
  ['port', '0', 'port', 0],
  ['port', '65535', 'port', 65535],
  ['page-size', '32', 'pageSize', 32],
  ['max-total-tokens', '4096', 'maxTotalTokens', 4096],
  ['max-running-requests', '8', 'maxRunningRequests', 8],
  ['chunked-prefill-size', '128', 'chunkedPrefillSize', 128],
  ['max-batch-size', '1', 'maxBatchSize', 1],
  ['max-payload-size', '4194304', 'maxPayloadBytes', 4194304],
  ['log-level', 'debug', 'logLevel', 'debug'],
  ['log-level', 'silent', 'logLevel', 'silent'],
  ['kernel', 'js', 'engine', { name: 'reference', config: { kernel: 'js' } }],
  ['engine', 'reference', 'engine', { name: 'reference' }],
  ['engine', 'synthetic', 'engine', { name: 'synthetic', config: { modelShape: 'deepseek-v3' } }, { argv: ['--model-shape', 'deepseek-v3'], opts: {} }],
  ['model-shape', 'llama-3.1-8b', 'engine', { name: 'synthetic', config: { modelShape: 'llama-3.1-8b' } }, { argv: ['--engine', 'synthetic'], opts: {} }],
  ['gpu', 'a100', 'engine', { name: 'synthetic', config: { modelShape: 'qwen2.5-7b', gpu: 'a100' } }, { argv: ['--engine', 'synthetic', '--model-shape', 'qwen2.5-7b'], opts: {} }],
  ['gpu', '8xh200', 'engine', { name: 'synthetic', config: { modelShape: 'qwen2.5-7b', gpu: '8xh200' } }, { argv: ['--engine', 'synthetic', '--model-shape', 'qwen2.5-7b'], opts: {} }],
  ['log-level', 'warning', 'logLevel', 'warn'],
  ['log-level', 'CRITICAL', 'logLevel', 'fatal'],
  ['log-level', 'INFO', 'logLevel', 'info'],
  ['model', 'meta-llama/Llama-3.1-8B-Instruct', 'modelPath', 'meta-llama/Llama-3.1-8B-Instruct'],
  ['revision', 'v1.0', 'revision', 'v1.0'],
  ['load-format', 'gguf', 'loadFormat', 'gguf'],
  ['tokenizer-path', '/models/tok', 'tokenizerPath', '/models/tok'],
  ['context-length', '2048', 'contextLength', 2048],
  ['mem-fraction-static', '0.8', 'memFractionStatic', 0.8],
  ['mem-fraction-static', '1', 'memFractionStatic', 1],
  ['max-prefill-tokens', '8192', 'maxPrefillTokens', 8192],
  ['schedule-policy', 'lof', 'schedulePolicy', 'lof'],
  ['schedule-policy', 'lpm', 'schedulePolicy', 'lpm'],
  ['random-seed', '42', 'randomSeed', 42],
  ['nnodes', '1', 'role', 'colocated'],
  ['node-rank', '0', 'role', 'colocated'],
  ['tp', '2', 'tpSize', 2],
  ['tp-size', '4', 'tpSize', 4],
];

/** [flag, value, what the message must say]. */
const BAD: [string, string, RegExp][] = [
  ['role', 'router', /--role must be one of colocated, prefill, decode \(got "router"\)/],
  ['disaggregation-mode', 'router', /--disaggregation-mode must be one of prefill, decode \(got "router"\)/],
  ['disaggregation-transfer-backend', 'udp', new RegExp(`--disaggregation-transfer-backend must be one of ${TRANSFER_BACKEND_NAMES.join(', ')} \\(got "udp"\\)`)],
  ['disaggregation-ib-device', 'mlx5_0,,mlx5_2', /--disaggregation-ib-device has an empty device name/],
  ['shm-copy-threads', '0', /--shm-copy-threads must be an integer from 1 to 16 \(got "0"\)/],
  ['tcp-send-buffer', '256k', /--tcp-send-buffer must be a number of bytes from 0 to 1073741824 \(got "256k"\)/],
  ['tcp-send-buffer', '-1', /--tcp-send-buffer must be a number of bytes from 0 to 1073741824 \(got "-1"\)/],
  ['registry-url', 'http://x:1', /--registry-url must look like tcp:\/\/HOST:PORT/],
  ['registry-url', 'tcp://x:0', /--registry-url must look like tcp:\/\/HOST:PORT/],
  ['registry-url', 'etcd://x:2379,', /--registry-url: etcd URL must look like etcd:\/\/HOST:PORT\[,HOST:PORT...\]/],
  ['etcd-user', 'pd:pw', /--etcd-\* flags apply to --registry-url etcd:\/\//],
  ['etcd-cacert', '', /--etcd-cacert needs a non-empty value/],
  ['etcd-cert', 'c.pem', /--etcd-\* flags apply to --registry-url etcd:\/\//],
  ['etcd-key', 'k.pem', /--etcd-\* flags apply to --registry-url etcd:\/\//],
  ['disaggregation-bootstrap-port', 'x', /--disaggregation-bootstrap-port must be a port number/],
  ['disaggregation-bootstrap-timeout', '0', /--disaggregation-bootstrap-timeout must be a number of seconds/],
  ['disaggregation-transfer-timeout', '-1', /--disaggregation-transfer-timeout must be a number of seconds/],
  ['disaggregation-peer-timeout', 'soon', /--disaggregation-peer-timeout must be a number of seconds/],
  ['model-path', '', /--model-path needs a non-empty value/],
  ['cluster-secret-file', '', /--cluster-secret-file needs a non-empty value/],
  ['served-model-name', ' ', /--served-model-name needs a non-empty value/],
  ['api-key', ' ', /--api-key needs a non-empty value/],
  ['host', '', /--host needs a non-empty value/],
  ['advertise-host', '0.0.0.0', /--advertise-host must be an address peers can reach, not the wildcard "0.0.0.0"/],
  ['advertise-host', '::', /--advertise-host must be an address peers can reach, not the wildcard "::"/],
  ['port', '-1', /--port must be a port number from 0 \(any free port\) to 65535 \(got "-1"\)/],
  ['port', '65536', /--port must be a port number .*\(got "65536"\)/],
  ['port', 'http', /--port must be a port number .*\(got "http"\)/],
  ['page-size', 'abc', /^--page-size must be a positive integer \(got "abc"\)$/],
  ['page-size', '0', /--page-size must be a positive integer \(got "0"\)/],
  ['page-size', '1.5', /--page-size must be a positive integer \(got "1.5"\)/],
  ['page-size', '1e3', /--page-size must be a positive integer \(got "1e3"\)/],
  ['max-total-tokens', '0', /--max-total-tokens must be a positive integer \(got "0"\)/],
  ['max-running-requests', '-3', /--max-running-requests must be a positive integer \(got "-3"\)/],
  ['chunked-prefill-size', 'x', /--chunked-prefill-size must be a positive integer \(got "x"\)/],
  ['max-batch-size', '99999999999999999999', /--max-batch-size must be a positive integer/],
  ['max-payload-size', '-1', /--max-payload-size must be a byte count from 1 to 1073741824/],
  ['log-level', 'loud', /--log-level must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/],
  ['kernel', 'cuda', /--kernel must be one of native, wasm, js \(got "cuda"\)/],
  ['engine', 'fast', /--engine must be one of reference, synthetic \(got "fast"\)/],
  ['model-shape', 'gpt-5', /--model-shape must be one of deepseek-v3, llama-3.1-8b, llama-3.1-70b, qwen2.5-7b, mixtral-8x7b \(got "gpt-5"\)/],
  ['gpu', 'h1000', /--gpu must be one of a100, h100, h200, b200, l40s, mi300x, optionally as COUNTxNAME with COUNT 1-64 \(got "h1000"\)/],
  ['gpu', '0xh100', /--gpu must be one of .* \(got "0xh100"\)/],
  ['log-level', 'verbose', /--log-level must be one of fatal, error, warn, info, debug, trace, silent \(got "verbose"\)/],
  ['disaggregation-transfer-backend', 'mooncake', /^--disaggregation-transfer-backend mooncake is SGLang's; pd-node's equivalent is --disaggregation-transfer-backend verbs \(RDMA WRITEs/],
  ['disaggregation-transfer-backend', 'nixl', /^--disaggregation-transfer-backend nixl is SGLang's; pd-node's equivalent is --disaggregation-transfer-backend verbs/],
  ['disaggregation-transfer-backend', 'mooncake_tcp', /pd-node's equivalent is --disaggregation-transfer-backend tcp/],
  ['revision', '', /--revision needs a non-empty value/],
  ['load-format', 'pt', /--load-format must be one of auto, safetensors, gguf \(got "pt"\)/],
  ['tokenizer-path', '', /--tokenizer-path needs a non-empty value/],
  ['context-length', '0', /--context-length must be a positive integer \(got "0"\)/],
  ['mem-fraction-static', '0', /--mem-fraction-static must be a fraction in \(0, 1\] \(got "0"\)/],
  ['mem-fraction-static', '1.5', /--mem-fraction-static must be a fraction in \(0, 1\] \(got "1.5"\)/],
  ['mem-fraction-static', '80%', /--mem-fraction-static must be a fraction/],
  ['max-prefill-tokens', '-1', /--max-prefill-tokens must be a positive integer/],
  ['schedule-policy', 'priority', /--schedule-policy must be one of fcfs, lof, random, lpm, dfs-weight \(got "priority"\)/],
  ['random-seed', '-1', /--random-seed must be an integer in \[0, 2\^32\) \(got "-1"\)/],
  ['nnodes', '2', /^--nnodes 2: pd-node holds a model in one process and cannot split one over hosts/],
  ['node-rank', '1', /^--node-rank 1: only rank 0 exists/],
  ['tp', '0', /--tp must be an integer from 1 to 64 \(got "0"\)/],
  ['tp-size', 'two', /--tp-size must be an integer from 1 to 64 \(got "two"\)/],
];

function throwsFlagError(argv: string[], message: RegExp): void {
  assert.throws(() => parseNodeFlags(argv), (err: unknown) => {
    assert.ok(err instanceof FlagError, `a FlagError, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}

describe('parseNodeFlags', () => {
  test('no flags gives the defaults', () => {
    assert.deepEqual(parseNodeFlags([]), DEFAULT_NODE_OPTIONS);
  });

  test('every flag has good and bad values tested here', () => {
    for (const f of NODE_FLAGS) {
      assert.ok(GOOD.some(([name]) => name === f.name), `a good value for --${f.name}`);
      for (const alias of f.aliases ?? []) assert.ok(GOOD.some(([name]) => name === alias), `a good value for --${alias} (alias of --${f.name})`);
      assert.ok(BAD.some(([name]) => name === f.name), `a bad value for --${f.name}`);
    }
  });

  for (const [flag, value, key, expected, needs = { argv: [], opts: {} }] of GOOD) {
    test(`--${flag} ${JSON.stringify(value)} sets ${key}`, () => {
      const opts = parseNodeFlags([`--${flag}`, value, ...needs.argv]);
      assert.deepEqual(opts, { ...DEFAULT_NODE_OPTIONS, ...needs.opts, [key]: expected });
      assert.deepEqual(parseNodeFlags([...needs.argv, `--${flag}=${value}`]), opts, '--flag=value works too, in any order');
    });
  }

  test('--engine synthetic needs --model-shape, and --model-shape needs it', () => {
    throwsFlagError(['--engine', 'synthetic'], /^--engine synthetic needs --model-shape \(one of deepseek-v3, llama-3.1-8b, /);
    throwsFlagError(['--model-shape', 'llama-3.1-8b'], /^--model-shape applies to --engine synthetic only$/);
    throwsFlagError(['--engine', 'reference', '--model-shape', 'llama-3.1-8b'], /^--model-shape applies to --engine synthetic only$/);
    throwsFlagError(['--gpu', 'h100'], /^--gpu applies to --engine synthetic only$/);
    throwsFlagError(['--engine', 'synthetic', '--model-shape', 'llama-3.1-8b', '--kernel', 'js'], /^--kernel applies to --engine reference only$/);
  });

  test('engineArgs gives back the flags that choose an engine (what the demo passes on to its nodes)', () => {
    for (const argv of [[], ['--kernel', 'js'], ['--engine', 'synthetic', '--gpu', 'a100', '--model-shape', 'qwen2.5-7b']]) {
      const { engine } = parseNodeFlags(argv);
      assert.deepEqual(parseNodeFlags(engineArgs(engine)).engine, engine);
    }
    assert.deepEqual(engineArgs({ name: 'reference', config: { kernel: 'js' } }), ['--engine', 'reference', '--kernel', 'js']);
  });

  test('--tp with the synthetic engine sets the GPU count: a bare --gpu is multiplied, COUNTxNAME must agree', () => {
    const synthetic = ['--engine', 'synthetic', '--model-shape', 'llama-3.1-8b'];
    assert.equal(parseNodeFlags([...synthetic, '--tp', '8', '--gpu', '8xh100']).tpSize, 8);
    throwsFlagError([...synthetic, '--tp', '2', '--gpu', '4xh100'], /^--tp 2 and --gpu 4xh100 disagree: --tp N models N GPUs/);
  });

  for (const [flag, value, message] of BAD) {
    test(`--${flag} ${JSON.stringify(value)} is refused naming the flag`, () => throwsFlagError([`--${flag}=${value}`], message));
  }

  test("a backend's flag is checked with any backend but applies to its own only (SGLang passes --disaggregation-ib-device with any)", () => {
    assert.deepEqual(parseNodeFlags(['--disaggregation-ib-device', 'mlx5_0']).transfer, DEFAULT_NODE_OPTIONS.transfer);
    assert.deepEqual(parseNodeFlags(['--disaggregation-ib-device', 'mlx5_0', '--disaggregation-transfer-backend', 'shm']).transfer, { backend: 'shm', settings: SHM_BACKEND.defaults });
    throwsFlagError(['--disaggregation-ib-device', ',', '--disaggregation-transfer-backend', 'tcp'], /^--disaggregation-ib-device has an empty device name/);
  });

  test('flags combine', () => {
    const opts = parseNodeFlags(['--role', 'colocated', '--port', '30001', '--page-size', '64', '--model-path', '/m', '--kernel', 'js']);
    assert.deepEqual(opts, { ...DEFAULT_NODE_OPTIONS, port: 30001, pageSize: 64, modelPath: '/m', engine: { name: 'reference', config: { kernel: 'js' } } });
  });

  test('unknown flags, positionals, repeated flags and missing values are errors', () => {
    throwsFlagError(['--page-sise', '8'], /Unknown argument: page-sise/);
    throwsFlagError(['--is-embedding'], /Unknown argument: is-embedding/);
    throwsFlagError(['--model', 'a', '--model-path', 'b'], /--model-path was given more than once/);
    throwsFlagError(['serve'], /Unknown argument: serve/);
    throwsFlagError(['--port', '1', '--port', '2'], /--port was given more than once/);
    throwsFlagError(['--port'], /Not enough arguments following: port/);
    throwsFlagError(['--model-path', '--port', '1'], /Not enough arguments following: model-path/);
  });

  test('the input array is not modified', () => {
    const argv = ['--page-size', '8'];
    parseNodeFlags(argv);
    assert.deepEqual(argv, ['--page-size', '8']);
  });
});
