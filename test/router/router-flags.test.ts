/**
 * parseRouterFlags: SGLang's router command line, every flag with good and bad values, the
 * `--prefill URL [PORT]` form, and --help listing every flag with its default.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FlagError } from '../../src/cli/flag-values.js';
import { DEFAULT_REGISTRY_PORT, parseRouterFlags, routerHelp } from '../../src/cli/router-flags.js';
import { DEFAULT_ROUTER_OPTIONS } from '../../src/router/options.js';

function throwsFlagError(argv: string[], message: RegExp): void {
  assert.throws(
    () => parseRouterFlags(argv),
    (err: unknown) => {
      assert.ok(err instanceof FlagError, `a FlagError, got ${String(err)}`);
      assert.match(err.message, message);
      return true;
    },
    argv.join(' '),
  );
}

describe('parseRouterFlags', () => {
  test("SGLang's seed command line", () => {
    const flags = parseRouterFlags(['--role', 'router', '--pd-disaggregation', '--prefill', 'http://10.0.0.1:30000', '--decode', 'http://10.0.0.2:30001', '--host', '127.0.0.1', '--port', '8000']);
    assert.equal(flags.help, false);
    assert.deepEqual(flags.options, {
      ...DEFAULT_ROUTER_OPTIONS,
      prefill: [{ url: 'http://10.0.0.1:30000', bootstrapPort: 8998 }],
      decode: [{ url: 'http://10.0.0.2:30001' }],
      host: '127.0.0.1',
      port: 8000,
    });
    assert.deepEqual(flags.registry, { kind: 'host', port: DEFAULT_REGISTRY_PORT });
  });

  test('--prefill URL PORT, repeated, mixed with other flags and = forms', () => {
    const flags = parseRouterFlags([
      '--prefill', 'http://a:30000', '9001',
      '--prefill=http://b:30000/',
      '--decode', 'https://c:30001',
      '--prefill', 'http://d:30000', '9003', '--policy', 'least_load',
      '--decode=http://[::1]:30002',
    ]);
    assert.deepEqual(flags.options.prefill, [
      { url: 'http://a:30000', bootstrapPort: 9001 },
      { url: 'http://b:30000', bootstrapPort: 8998 },
      { url: 'http://d:30000', bootstrapPort: 9003 },
    ]);
    assert.deepEqual(flags.options.decode, [{ url: 'https://c:30001' }, { url: 'http://[::1]:30002' }]);
    assert.equal(flags.options.policy, 'least_load');
  });

  test('every value flag', () => {
    const flags = parseRouterFlags([
      '--decode', 'http://d:1', '--policy', 'power_of_two', '--max-retries', '0', '--request-timeout-secs', '30',
      '--connect-timeout-secs', '0.5', '--control-timeout-secs', '2', '--down-backoff-secs', '1.5',
      '--registry-poll-ms', '100', '--log-level', 'debug', '--registry-url', 'tcp://10.0.0.9:5757', '--api-key', 'sk-abc', '--cluster-secret-file', '/etc/pd-node/secret',
    ]);
    assert.deepEqual(flags.options, {
      ...DEFAULT_ROUTER_OPTIONS,
      decode: [{ url: 'http://d:1' }],
      policy: 'power_of_two',
      maxRetries: 0,
      requestTimeoutSecs: 30,
      connectTimeoutSecs: 0.5,
      controlTimeoutSecs: 2,
      downBackoffSecs: 1.5,
      registryPollMs: 100,
      clusterSecretFile: '/etc/pd-node/secret',
      logLevel: 'debug',
      apiKey: 'sk-abc',
    });
    assert.deepEqual(flags.registry, { kind: 'remote', url: 'tcp://10.0.0.9:5757' });
    assert.deepEqual(parseRouterFlags(['--registry-port', '0']).registry, { kind: 'host', port: 0 });
    const etcd = parseRouterFlags(['--etcd-key', 'k.pem', '--registry-url', 'etcd://e1:2379,[fd00::2]:2379', '--etcd-user', 'pd:pw:x', '--etcd-cacert', 'ca.pem', '--etcd-cert', 'c.pem']);
    assert.deepEqual(etcd.registry, { kind: 'remote', url: 'etcd://e1:2379,[fd00::2]:2379' });
    assert.deepEqual(etcd.options.etcd, { user: 'pd:pw:x', cacert: 'ca.pem', cert: 'c.pem', key: 'k.pem' });
    // In either order: the hosted registry's published host.
    assert.deepEqual(parseRouterFlags(['--advertise-host', '10.1.2.3', '--registry-port', '0']).registry, { kind: 'host', port: 0, advertiseHost: '10.1.2.3' });
    assert.deepEqual(parseRouterFlags(['--host', '0.0.0.0', '--advertise-host', '10.1.2.3']).registry, { kind: 'host', port: DEFAULT_REGISTRY_PORT, advertiseHost: '10.1.2.3' });
  });

  const BAD: [string[], RegExp][] = [
    [['--prefill', 'abc'], /^--prefill: "abc" is not an http\(s\) URL$/],
    [['--prefill', 'ftp://x:1'], /--prefill: "ftp:\/\/x:1" is not an http\(s\) URL/],
    [['--decode', 'localhost:30001'], /--decode: "localhost:30001" is not an http\(s\) URL/],
    [['--prefill'], /--prefill needs a URL/],
    [['--prefill', '--decode', 'http://d:1'], /--prefill needs a URL/],
    [['--decode'], /--decode needs a URL/],
    [['--prefill', 'http://a:1', '70000'], /--prefill http:\/\/a:1 must be followed by a bootstrap port from 1 to 65535, if anything \(got "70000"\)/],
    [['--prefill', 'http://a:1', 'abc'], /--prefill http:\/\/a:1 must be followed by a bootstrap port .*\(got "abc"\)/],
    [['--prefill', 'http://a:1', '0'], /\(got "0"\)/],
    [['--decode', 'http://d:1', '9000'], /--decode http:\/\/d:1: unexpected "9000"/],
    [['--prefill', 'http://a:1', '--decode', 'http://a:1/'], /--decode: http:\/\/a:1 is given more than once/],
    [['--role', 'prefill'], /--role must be router/],
    [['--host', ''], /--host needs a non-empty value/],
    [['--port', '65536'], /--port must be a port number/],
    [['--policy', 'fastest'], /--policy must be one of random, round_robin, power_of_two, least_load \(got "fastest"\)/],
    [['--max-retries', '-1'], /--max-retries must be an integer from 0 to 100/],
    [['--max-retries', '1.5'], /--max-retries must be an integer from 0 to 100 \(got "1.5"\)/],
    [['--request-timeout-secs', '0'], /--request-timeout-secs must be a number of seconds/],
    [['--connect-timeout-secs', 'soon'], /--connect-timeout-secs must be a number of seconds .*\(got "soon"\)/],
    [['--control-timeout-secs', '-2'], /--control-timeout-secs must be a number of seconds/],
    [['--down-backoff-secs', '0'], /--down-backoff-secs must be a number of seconds/],
    [['--registry-poll-ms', '0'], /--registry-poll-ms must be a positive integer/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--registry-port', 'x'], /--registry-port must be a port number/],
    [['--registry-url', 'http://r:1'], /--registry-url must look like tcp:\/\/HOST:PORT/],
    [['--registry-url', 'etcd://e1:2379,e2'], /--registry-url: etcd URL must look like etcd:\/\/HOST:PORT\[,HOST:PORT...\] \("e2"/],
    [['--etcd-user', 'root:pw'], /--etcd-\* flags apply to --registry-url etcd:\/\/.../],
    [['--registry-url', 'etcd://e1:2379', '--etcd-user', 'root'], /--etcd-user must be NAME:PASSWORD/],
    [['--registry-url', 'etcd://e1:2379', '--etcd-cacert', 'ca.pem', '--etcd-cert', 'c.pem'], /--etcd-cert and --etcd-key go together/],
    [['--cluster-secret-file', ''], /--cluster-secret-file needs a non-empty value/],
    [['--registry-port', '1', '--registry-url', 'tcp://r:1'], /--registry-port and --registry-url exclude each other/],
    [['--advertise-host', '0.0.0.0'], /--advertise-host must be an address peers can reach, not the wildcard "0.0.0.0"/],
    [['--advertise-host', '10.1.2.3', '--registry-url', 'tcp://r:1'], /--advertise-host names the address of a hosted registry/],
    [['--port', '1', '--port', '2'], /--port was given more than once/],
    [['--prot', '1'], /Unknown argument: prot/i],
    [['stray'], /Unknown argument: stray/i],
    [['--policy'], /policy/],
  ];
  for (const [argv, message] of BAD) {
    test(`refuses ${argv.join(' ')}`, () => throwsFlagError(argv, message));
  }

  test('--help: the flag, and a text listing every flag with its default', () => {
    assert.equal(parseRouterFlags(['--help']).help, true);
    assert.equal(parseRouterFlags(['-h']).help, true);
    const help = routerHelp();
    for (const flag of ['--prefill URL [BOOTSTRAP_PORT]', '--decode URL', '--pd-disaggregation', '--role', '--host', '--port', '--policy', '--max-retries', '--request-timeout-secs', '--connect-timeout-secs', '--control-timeout-secs', '--down-backoff-secs', '--registry-port', '--registry-url', '--advertise-host', '--registry-poll-ms', '--cluster-secret-file', '--log-level']) {
      assert.ok(help.includes(flag), `help lists ${flag}`);
    }
    for (const def of ['[default: round_robin]', '[default: 600]', '[default: 2]', '[default: 500]', '[default: 5757]', '[default: 8000]', '[default: none; bootstrap port 8998]', '[default: $PD_NODE_CLUSTER_SECRET_FILE, else ~/.config/pd-node/cluster-secret (created on first use)]']) {
      assert.ok(help.includes(def), `help shows ${def}`);
    }
  });
});

// router-perf: --workers (our extension; src/cli/router-cluster.ts).
describe('--workers', () => {
  test('default 1 (this process serves alone), N router processes, bounds named', () => {
    assert.equal(parseRouterFlags(['--decode', 'http://d:1']).options.workers, 1);
    assert.equal(parseRouterFlags(['--decode', 'http://d:1', '--workers', '4']).options.workers, 4);
    for (const bad of ['0', '1.5', 'two', '257']) throwsFlagError(['--workers', bad], /--workers must be an integer from 1 to 256/);
    assert.match(routerHelp(), /--workers N +Router processes sharing the port.*\[default: 1\]/);
  });
});
