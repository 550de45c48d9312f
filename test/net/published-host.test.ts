/**
 * The address a node publishes (src/net/published-host.ts) and the address classification under it:
 * the flag and SGLANG_HOST_IP win, a named bind address is published as is, a wildcard bind asks the
 * kernel for the route towards the registry (checked against `ip route get`, the kernel's own answer).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { hostOfUrl, hostPort, isLoopbackHost, isWildcardHost } from '../../src/net/address-kind.js';
import { choosePublishedHost, externalAddresses } from '../../src/net/published-host.js';
import { routeSourceAddress } from '../../src/net/route-source.js';
import { publishedRegistryUrl } from '../../src/registry/published-url.js';
import { publishedEndpoint } from '../../src/transfer/published-endpoint.js';
import type { TcpEndpoint } from '../../src/transfer/tcp/endpoint.js';

const NO_ENV = {};

/** The kernel's source address towards `to` (`ip route get`), or null without iproute2 or a route. */
function ipRouteSource(to: string): string | null {
  try {
    return /\bsrc (\S+)/.exec(execFileSync('ip', ['route', 'get', to], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1] ?? null;
  } catch {
    return null;
  }
}

describe('address kinds', () => {
  test('wildcards and loopbacks, with and without brackets', () => {
    for (const h of ['0.0.0.0', '::', '[::]', '']) assert.equal(isWildcardHost(h), true, h);
    for (const h of ['127.0.0.1', '10.0.0.1', '::1', 'localhost', 'node-a']) assert.equal(isWildcardHost(h), false, h);
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['10.0.0.1', '128.0.0.1', '0.0.0.0', 'node-a', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  });

  test('hosts of URLs', () => {
    assert.equal(hostOfUrl('tcp://10.1.2.3:5757'), '10.1.2.3');
    assert.equal(hostOfUrl('http://[fe80::1]:30000/x'), 'fe80::1');
    assert.equal(hostOfUrl('http://node-a'), 'node-a');
    assert.equal(hostOfUrl('10.1.2.3:5757'), null);
    assert.equal(hostPort('fe80::1', 1), '[fe80::1]:1');
    assert.equal(hostPort('10.0.0.1', 1), '10.0.0.1:1');
  });
});

describe('published host', () => {
  test('--advertise-host, then SGLANG_HOST_IP, then a named bind address', async () => {
    assert.deepEqual(await choosePublishedHost({ bindHost: '0.0.0.0', advertiseHost: '10.9.9.9', env: { SGLANG_HOST_IP: '10.8.8.8' }, towards: null }), { host: '10.9.9.9', why: '--advertise-host' });
    assert.deepEqual(await choosePublishedHost({ bindHost: '0.0.0.0', advertiseHost: null, env: { SGLANG_HOST_IP: '10.8.8.8' }, towards: null }), { host: '10.8.8.8', why: '$SGLANG_HOST_IP' });
    assert.deepEqual(await choosePublishedHost({ bindHost: '10.7.7.7', advertiseHost: null, env: NO_ENV, towards: '127.0.0.1' }), { host: '10.7.7.7', why: 'the bind address (--host)' });
    await assert.rejects(choosePublishedHost({ bindHost: '0.0.0.0', advertiseHost: null, env: { SGLANG_HOST_IP: '0.0.0.0' }, towards: null }), /\$SGLANG_HOST_IP is "0.0.0.0", a wildcard/);
  });

  test('a wildcard bind publishes the source of the route to the registry', async () => {
    const towardsLoopback = await choosePublishedHost({ bindHost: '0.0.0.0', advertiseHost: null, env: NO_ENV, towards: '127.0.0.1' });
    assert.equal(towardsLoopback.host, '127.0.0.1');
    assert.match(towardsLoopback.why, /interface that routes to the registry \(127\.0\.0\.1\)/);
    // Every external address routes to itself through its own interface (the kernel's local table).
    for (const address of externalAddresses()) {
      assert.equal((await choosePublishedHost({ bindHost: '::', advertiseHost: null, env: NO_ENV, towards: address })).host, address);
    }
  });

  test('the route source is the kernel\'s (ip route get), and nothing is needed at the other end', async () => {
    assert.equal(await routeSourceAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(await routeSourceAddress('localhost'), '127.0.0.1');
    assert.equal(await routeSourceAddress('no-such-host.invalid'), null);
    const expected = ipRouteSource('192.0.2.1');
    if (expected !== null) assert.equal(await routeSourceAddress('192.0.2.1'), expected);
  });

  test('no route to the registry: the default route, else the first external address, said so', async () => {
    // 192.0.2.0/24 answers like any unrouted registry: a host with a default route publishes its source.
    const chosen = await choosePublishedHost({ bindHost: '0.0.0.0', advertiseHost: null, env: NO_ENV, towards: 'no-such-host.invalid' });
    assert.match(chosen.why, /no route to the registry \(no-such-host\.invalid\)/);
    const byDefault = ipRouteSource('192.0.2.1');
    if (byDefault !== null) assert.equal(chosen.host, byDefault);
    else assert.equal(chosen.host, externalAddresses()[0] ?? '127.0.0.1');
  });

  test('KV endpoints: tcp and verbs take the published host, shm is published as is', () => {
    const tcp: TcpEndpoint = { backend: 'tcp', host: '0.0.0.0', port: 9 };
    assert.deepEqual(publishedEndpoint(tcp, '10.1.1.1'), { backend: 'tcp', host: '10.1.1.1', port: 9 });
    const verbs = { backend: 'verbs' as const, host: '::', port: 9, bytes: 1, devices: [] };
    assert.deepEqual(publishedEndpoint(verbs, '10.1.1.1'), { ...verbs, host: '10.1.1.1' });
    const shm = { backend: 'shm' as const, name: 'x', bytes: 1, hostId: 'h', poolId: 'p' };
    assert.equal(publishedEndpoint(shm, '10.1.1.1'), shm);
  });

  test('the registry URL printed for nodes is never a wildcard', async () => {
    const named = await publishedRegistryUrl('tcp://127.0.0.1:5757', null, NO_ENV);
    assert.deepEqual([named.url, named.alternatives], ['tcp://127.0.0.1:5757', []]);
    assert.equal((await publishedRegistryUrl('tcp://0.0.0.0:5757', '10.3.3.3', NO_ENV)).advice, '--registry-url tcp://10.3.3.3:5757');
    const wild = await publishedRegistryUrl('tcp://0.0.0.0:5757', null, NO_ENV);
    assert.doesNotMatch(wild.url, /0\.0\.0\.0/);
    assert.match(wild.url, /^tcp:\/\/[^:]+:5757$/);
    assert.deepEqual([wild.url, ...wild.alternatives].sort(), [...new Set([wild.url, ...externalAddresses().map((a) => `tcp://${a}:5757`)])].sort());
  });
});
