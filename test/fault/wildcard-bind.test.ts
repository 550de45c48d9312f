/**
 * Issue 10, "addresses that work by default", across network namespaces (fault-net.ts): router (with
 * its registry), prefill and decode each on a host of their own, all started with --host 0.0.0.0 and
 * no other address flag; the nodes get only the registry URL. Every host also has a side network
 * listed before the cluster's (FaultNet `sideNetwork`), so "the first external IPv4 address" would
 * publish an address no other host reaches. The nodes must publish their cluster address (the
 * interface that routes to the registry) for HTTP, bootstrap and KV, and every request through the
 * router must give a colocated node's greedy text. Needs root; skipped otherwise.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { hostOfUrl } from '../../src/net/address-kind.js';
import type { FetchAgent } from './fetch-agent-client.js';
import { FaultNet, faultNetUnavailable } from './fault-net.js';
import { colocatedTexts, faultPrompts, SAMPLING, waitForRouterNodes } from './fault-scenario.js';

const run = promisify(execFile);
/** Eight of the fault prompts (300+ tokens each, 64 new): enough KV over tcp, well within a minute. */
const PROMPTS = faultPrompts().slice(0, 8);
/** Start-up, the references and eight PD requests take ~20 s on a busy 2-core machine. */
const TEST_TIMEOUT_MS = 120_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** The IPv4 addresses a node process in `ns` lists, in order (what the old rule took the first of). */
async function listedAddresses(ns: string): Promise<string[]> {
  const script = "const os=require('os');console.log(JSON.stringify(Object.values(os.networkInterfaces()).flat().filter(a=>a.family==='IPv4'&&!a.internal).map(a=>a.address)))";
  return JSON.parse((await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { timeout: 20_000 })).stdout) as string[];
}

function logRecords(lines: readonly string[], msg: RegExp): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      return typeof rec.msg === 'string' && msg.test(rec.msg) ? [rec] : [];
    } catch {
      return [];
    }
  });
}

describe('three hosts with a wildcard bind and a side network listed first', { skip: faultNetUnavailable() ?? false }, () => {
  let net: FaultNet;
  let client: FetchAgent;
  let expected: string[];

  before(async () => {
    [expected, net] = await Promise.all([colocatedTexts(PROMPTS), FaultNet.create(['client', 'router', 'prefill', 'decode'], { sideNetwork: true })]);
    client = await net.agent('client');
  });
  after(async () => {
    await net?.cleanup();
  });

  test('nodes publish their cluster address and every request through the router is right', { timeout: TEST_TIMEOUT_MS }, async () => {
    // The scenario: the first external address of each host is on the side network.
    for (const name of ['router', 'prefill', 'decode']) {
      const host = net.host(name);
      assert.deepEqual(await listedAddresses(host.ns), [host.sideAddress, host.address], `${name} lists the side network first`);
    }
    const wildcard = ['--host', '0.0.0.0', '--port', '0', '--log-level', 'info'];
    const router = await net.startNode('router', ['--role', 'router', ...wildcard, '--registry-port', '0', '--registry-poll-ms', '100']);
    const routerHost = net.host('router').address;
    const registryPort = Number(/:(\d+)$/.exec(router.registryUrl ?? '')?.[1]);
    const registryUrl = `tcp://${routerHost}:${registryPort}`;
    // No default route here, so the router cannot tell which network nodes share: it prints each, never 0.0.0.0.
    const [hosting] = logRecords(router.logs, /^hosting the registry/);
    assert.ok(hosting, router.logs.join('\n'));
    assert.ok((hosting.registryUrls as string[]).includes(registryUrl), JSON.stringify(hosting));
    assert.doesNotMatch(String(hosting.msg), /0\.0\.0\.0/);

    const [prefill, decode] = await Promise.all([
      net.startNode('prefill', ['--role', 'prefill', ...wildcard, '--disaggregation-bootstrap-port', '0', '--registry-url', registryUrl]),
      net.startNode('decode', ['--role', 'decode', ...wildcard, '--registry-url', registryUrl]),
    ]);
    for (const [name, node] of [['prefill', prefill], ['decode', decode]] as const) {
      assert.equal(hostOfUrl(node.url), net.host(name).address, `${name} publishes its cluster address: ${node.url}`);
      const [published] = logRecords(node.logs, /^publishing /);
      assert.match(String(published?.why), new RegExp(`interface that routes to the registry \\(${routerHost.replace(/\./g, '\\.')}\\)`), node.logs.join('\n'));
    }

    const routerUrl = `http://${routerHost}:${Number(/:(\d+)$/.exec(router.url)?.[1])}`;
    await waitForRouterNodes(client, routerUrl, [prefill.url, decode.url]);
    const replies = await Promise.all(
      PROMPTS.map((text) => client.request({ url: `${routerUrl}/generate`, body: JSON.stringify({ text, sampling_params: SAMPLING }), timeoutMs: REQUEST_TIMEOUT_MS })),
    );
    const texts = replies.map((r, i) => {
      assert.equal(r.status, 200, `prompt ${i}: ${r.text}`);
      return (JSON.parse(r.text) as { text: string }).text;
    });
    assert.deepEqual(texts, expected);
    // KV went over tcp to the decode node's published endpoint (the prefill's transfer counter moved).
    const metrics = await client.request({ url: `${prefill.url}/metrics`, timeoutMs: 10_000 });
    assert.match(metrics.text, /\npd_node_kv_transfer_bytes_total(?:\{[^}]*\})? [1-9]/);
    console.log(`wildcard bind: ${texts.length}/${PROMPTS.length} correct through the router; published ${prefill.url}, ${decode.url}; registry ${registryUrl}`);
  });
});
