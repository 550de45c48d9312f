/**
 * A node whose accept queue is full in a burst is busy, not down. Real fault: an iptables rule drops
 * new connections (SYN) to the fake prefill's port while its keep-alive connections keep answering.
 * A connect that times out while the node answers other requests leaves it up (the next request is
 * routed to it); a connect that times out with no answer from the node meanwhile takes it down.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { IDLE_CLOSE_MS } from '../../src/net/http1-pool.js';
import { startRouter, type RouterHandle } from '../../src/router/start-router.js';
import { faultNetUnavailable } from '../fault/fault-net.js';
import { post } from './cluster.js';
import { FakeNode, goodDecode, goodPrefill, RoomBoard } from './fake-pd-node.js';

/** Generous next to the prefill's answer delay, so the answers land inside the failing connect's wait on a busy machine. */
const CONNECT_TIMEOUT_SECS = 3;
/** The prefill answers this long after a request arrives: the requests overlap the failing connect. */
const ANSWER_DELAY_MS = 200;

const skip = faultNetUnavailable();

describe('router: a connect timeout on a busy node', { skip: skip ?? false, timeout: 120_000 }, () => {
  let prefill: FakeNode;
  let decode: FakeNode;
  let router: RouterHandle;
  let rule: string[] | null = null;

  before(async () => {
    const kv = new RoomBoard();
    const answer = goodPrefill(kv);
    prefill = await FakeNode.start(async (req, res) => {
      if (req.method === 'POST') await sleep(ANSWER_DELAY_MS);
      await answer(req, res);
    });
    decode = await FakeNode.start(goodDecode(kv));
    router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: prefill.url, bootstrapPort: 9123 }], decode: [{ url: decode.url }], connectTimeoutSecs: CONNECT_TIMEOUT_SECS, requestTimeoutSecs: 30 });
  });
  after(async () => {
    if (rule) execFileSync('iptables', ['-w', '-D', ...rule]);
    await router?.close();
    await decode?.close();
    await prefill?.close();
  });

  const generate = (rid: string) => post(`${router.url}/generate`, JSON.stringify({ text: 'hi', rid }));

  test('answers during the failed connect keep the node up; none take it down', async () => {
    // Two keep-alive connections to the prefill, idle in the router's pool.
    for (const a of await Promise.all([generate('warm-0'), generate('warm-1')])) assert.equal(a.status, 200, a.text);
    rule = ['INPUT', '-i', 'lo', '-p', 'tcp', '--syn', '--dport', String(prefill.port), '-j', 'DROP', '-m', 'comment', '--comment', `pd-node-test-${process.pid}`];
    execFileSync('iptables', ['-w', '-I', ...rule]);

    // Three at once: two ride the open connections (answered within the third's connect wait), the
    // third needs a new connection, which the rule leaves unanswered.
    const burst = await Promise.all([generate('burst-0'), generate('burst-1'), generate('burst-2')]);
    const failed = burst.filter((a) => a.status !== 200);
    assert.equal(failed.length, 1, JSON.stringify(burst));
    assert.match(failed[0].text, /timed out after 3 s/, 'the scenario: a connect timed out');
    // Still up: the next request goes to it, over an open connection.
    const next = await generate('after-burst');
    assert.equal(next.status, 200, next.text);

    // Once the open connections are closed idle, a connect that nothing answers takes it down.
    await sleep(IDLE_CLOSE_MS + 2_000);
    const lone = await generate('lone');
    assert.equal(lone.status, 503, lone.text);
    assert.match(lone.text, /timed out after 3 s/);
    const skipped = await generate('while-down');
    assert.equal(skipped.status, 503, skipped.text);
    assert.match(skipped.text, /down: connecting to .* timed out/);
    assert.equal(prefill.generations.filter((r) => r.json && (r.json as { rid?: string }).rid === 'while-down').length, 0);
  });
});
