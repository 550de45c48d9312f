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
      prefill: [{ url: 'http://10.0.0.1:30000', bootstrapPort: null }],
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
      { url: 'http://b:30000', bootstrapPort: null },
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

  test("seed 000's sgl-router command line, verbatim: the prefill node's own bootstrap port", () => {
    // python -m sglang_router.launch_router --pd-disaggregation --prefill http://${MASTER_ADDR}:30000 --decode http://${MASTER_ADDR_DECODE}:30001 --host 127.0.0.1 --port 8000
    const flags = parseRouterFlags(['--pd-disaggregation', '--prefill', 'http://10.0.0.1:30000', '--decode', 'http://10.0.0.2:30001', '--host', '127.0.0.1', '--port', '8000']);
    assert.deepEqual(flags.options, { ...DEFAULT_ROUTER_OPTIONS, prefill: [{ url: 'http://10.0.0.1:30000', bootstrapPort: null }], decode: [{ url: 'http://10.0.0.2:30001' }], host: '127.0.0.1', port: 8000 });
    assert.deepEqual(flags.notices, []);
  });

  test('--prefill URL none (any case), a port, or nothing', () => {
    const flags = parseRouterFlags(['--prefill', 'http://a:1', 'none', '--prefill', 'http://b:1', 'None', '--prefill', 'http://c:1', '9000', '--prefill', 'http://d:1', '--decode', 'http://e:1']);
    assert.deepEqual(flags.options.prefill.map((p) => p.bootstrapPort), [null, null, 9000, null]);
  });

  test("sgl-router's policies: per role, cache_aware and bucket run as least_load with a notice", () => {
    const a = parseRouterFlags(['--policy', 'cache_aware', '--decode-policy', 'power_of_two']);
    assert.deepEqual([a.options.policy, a.options.prefillPolicy, a.options.decodePolicy], ['least_load', null, 'power_of_two']);
    assert.equal(a.notices.length, 1);
    assert.match(a.notices[0], /^--policy cache_aware runs as least_load: cache_aware routes by prefix-cache reuse, and pd-node's nodes keep no prefix cache$/);
    const b = parseRouterFlags(['--prefill-policy', 'bucket', '--decode-policy', 'random']);
    assert.deepEqual([b.options.policy, b.options.prefillPolicy, b.options.decodePolicy], ['round_robin', 'least_load', 'random']);
    assert.match(b.notices.join('\n'), /--prefill-policy bucket runs as least_load/);
  });

  test('--max-concurrent-requests, retries, timeouts, log level, prometheus in sgl-router spelling', () => {
    assert.equal(parseRouterFlags(['--max-concurrent-requests', '-1']).options.maxConcurrentRequests, null);
    assert.equal(parseRouterFlags(['--max-concurrent-requests', '8']).options.maxConcurrentRequests, 8);
    assert.equal(parseRouterFlags([]).options.maxPayloadBytes, 1024 * 1024);
    assert.equal(parseRouterFlags(['--max-payload-size', '536870912']).options.maxPayloadBytes, 536870912, "sgl-router's default, given explicitly");
    assert.equal(parseRouterFlags(['--retry-max-retries', '3']).options.maxRetries, 2);
    assert.equal(parseRouterFlags(['--disable-retries']).options.maxRetries, 0);
    assert.equal(parseRouterFlags(['--health-check-timeout-secs', '3']).options.controlTimeoutSecs, 3);
    assert.equal(parseRouterFlags(['--verbose']).options.logLevel, 'debug');
    assert.equal(parseRouterFlags(['--pd-disaggregated']).options.logLevel, 'info');
    assert.deepEqual(parseRouterFlags(['--prometheus-host', '0.0.0.0', '--prometheus-port', '29000']).options.prometheus, { host: '0.0.0.0', port: 29000 });
    assert.deepEqual(parseRouterFlags(['--prometheus-port', '29000']).options.prometheus, { host: null, port: 29000 });
    const hostOnly = parseRouterFlags(['--prometheus-host', '0.0.0.0']);
    assert.equal(hostOnly.options.prometheus, null);
    assert.match(hostOnly.notices.join('\n'), /--prometheus-host has no effect without --prometheus-port/);
  });

  test('the rest of sgl-router\'s command line is accepted, changes nothing, and each flag is noted once', () => {
    const argv = [
      '--pd-disaggregation', '--prefill', 'http://p:1', '9000', '--decode', 'http://d:1',
      '--service-discovery', '--selector', 'app=sglang', 'tier=gpu', '--service-discovery-port', '8000', '--service-discovery-namespace', 'ml',
      '--prefill-selector', 'role=prefill', '--decode-selector=role=decode', '--cache-threshold', '0.3', '--balance-abs-threshold', '64',
      '--worker-startup-timeout-secs', '600', '--health-failure-threshold', '3', '--health-check-interval-secs', '60', '--health-check-endpoint', '/health',
      '--cb-failure-threshold', '10', '--disable-circuit-breaker', '--retry-initial-backoff-ms', '50', '--queue-size', '100',
      '--request-id-headers', 'x-request-id', 'x-trace-id', '--cors-allowed-origins', '--dp-aware', '--mini-lb', '--log-dir', '/tmp/logs',
    ];
    const flags = parseRouterFlags(argv);
    assert.deepEqual(flags.options, { ...DEFAULT_ROUTER_OPTIONS, prefill: [{ url: 'http://p:1', bootstrapPort: 9000 }], decode: [{ url: 'http://d:1' }] });
    const noted = flags.notices.map((n) => /^--([a-z-]+) is accepted for sgl-router compatibility and has no effect here: \S/.exec(n)?.[1]);
    const expected = argv.filter((a) => a.startsWith('--') && !['--pd-disaggregation', '--prefill', '--decode'].includes(a)).map((a) => a.slice(2).split('=')[0]);
    assert.deepEqual(noted.sort(), expected.sort());
  });

  test('--queue-timeout-secs bounds the wait for room while every node answers full', () => {
    assert.equal(DEFAULT_ROUTER_OPTIONS.queueTimeoutSecs, 60);
    assert.equal(parseRouterFlags(['--queue-timeout-secs', '5']).options.queueTimeoutSecs, 5);
  });

  const BAD: [string[], RegExp][] = [
    [['--prefill', 'abc'], /^--prefill: "abc" is not an http\(s\) URL$/],
    [['--prefill', 'ftp://x:1'], /--prefill: "ftp:\/\/x:1" is not an http\(s\) URL/],
    [['--decode', 'localhost:30001'], /--decode: "localhost:30001" is not an http\(s\) URL/],
    [['--prefill'], /--prefill needs a URL/],
    [['--prefill', '--decode', 'http://d:1'], /--prefill needs a URL/],
    [['--decode'], /--decode needs a URL/],
    [['--prefill', 'http://a:1', '70000'], /--prefill http:\/\/a:1 must be followed by a bootstrap port from 1 to 65535 or none, if anything \(got "70000"\)/],
    [['--prefill', 'http://a:1', 'abc'], /--prefill http:\/\/a:1 must be followed by a bootstrap port .*\(got "abc"\)/],
    [['--prefill', 'http://a:1', '0'], /\(got "0"\)/],
    [['--decode', 'http://d:1', '9000'], /--decode http:\/\/d:1: unexpected "9000"/],
    [['--prefill', 'http://a:1', '--decode', 'http://a:1/'], /--decode: http:\/\/a:1 is given more than once/],
    [['--role', 'prefill'], /--role must be router/],
    [['--host', ''], /--host needs a non-empty value/],
    [['--port', '65536'], /--port must be a port number/],
    [['--policy', 'fastest'], /--policy must be one of random, round_robin, power_of_two, least_load, cache_aware \(got "fastest"\)/],
    [['--policy', 'bucket'], /--policy must be one of .* \(got "bucket"\)/],
    [['--decode-policy', 'bucket'], /--decode-policy must be one of .* \(got "bucket"\)/],
    [['--prefill-policy', 'fastest'], /--prefill-policy must be one of random, round_robin, power_of_two, least_load, cache_aware, bucket \(got "fastest"\)/],
    [['--max-concurrent-requests', '0'], /--max-concurrent-requests must be a positive integer, or -1 for no bound \(got "0"\)/],
    [['--max-concurrent-requests', '-2'], /--max-concurrent-requests must be/],
    [['--max-payload-size', '0'], /--max-payload-size must be a byte count from 1 to 1073741824 \(got "0"\)/],
    [['--max-payload-size', '2GB'], /--max-payload-size must be a byte count/],
    [['--retry-max-retries', '0'], /--retry-max-retries must be an integer from 1 to 101 \(attempts in all\)/],
    [['--max-retries', '1', '--retry-max-retries', '3'], /--max-retries and --retry-max-retries exclude each other/],
    [['--disable-retries', '--max-retries', '1'], /--max-retries and --disable-retries exclude each other/],
    [['--control-timeout-secs', '1', '--health-check-timeout-secs', '2'], /--control-timeout-secs and --health-check-timeout-secs exclude each other/],
    [['--verbose', '--log-level', 'info'], /--verbose and --log-level exclude each other/],
    [['--prometheus-port', 'x'], /--prometheus-port must be a port number/],
    [['--worker-urls', 'http://w:1', 'http://w:2'], /--worker-urls is sgl-router's non-PD mode: pd-node's router routes to prefill\/decode pairs/],
    [['--cache-threshold'], /Not enough arguments following: cache-threshold/],
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
    for (const flag of ['--prefill URL [BOOTSTRAP_PORT|none]', '--decode URL', '--prefill-policy', '--decode-policy', '--max-concurrent-requests', '--retry-max-retries', '--disable-retries', '--health-check-timeout-secs', '--prometheus-port', '--prometheus-host', '--verbose', '--service-discovery', '--cb-failure-threshold', '--pd-disaggregation', '--role', '--host', '--port', '--policy', '--max-retries', '--request-timeout-secs', '--connect-timeout-secs', '--control-timeout-secs', '--down-backoff-secs', '--registry-port', '--registry-url', '--advertise-host', '--registry-poll-ms', '--cluster-secret-file', '--log-level']) {
      assert.ok(help.includes(flag), `help lists ${flag}`);
    }
    for (const def of ['[default: round_robin]', '[default: 600]', '[default: 2]', '[default: 500]', '[default: 5757]', '[default: 8000]', "[default: none; bootstrap port the node's own]", '[default: -1]', '[default: $PD_NODE_CLUSTER_SECRET_FILE, else ~/.config/pd-node/cluster-secret (created on first use)]']) {
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
