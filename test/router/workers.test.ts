/**
 * `pd-node --role router --workers 2` (src/cli/router-cluster.ts) as a real process tree in front of
 * fake PD nodes: requests on fresh connections are served by both workers (their debug lines name
 * their pids), each worker reads the registry the primary hosts, /metrics on any worker counts every worker's requests while the node gauges count each
 * node once, and SIGTERM to the primary stops every worker.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, test } from 'node:test';
import { killProcess, startProcess, stopAll, waitForLogLine } from '../helpers/processes.js';
import { metricValue } from '../server/support.js';
import { FakeNode, goodDecode, goodPrefill, RoomBoard } from './fake-pd-node.js';

const REQUESTS = 24;
const WORKERS = 2;
/** How long the primary's 'router workers listening' line may take after the first worker's 'router listening'. */
const ALL_LISTENING_MS = 60_000;
const POLL_MS = 50;

const nodes: FakeNode[] = [];
after(async () => {
  await stopAll();
  await Promise.all(nodes.map((n) => n.close()));
});

/** POST on a connection of its own, so that the primary hands each request to the next worker. */
function postFresh(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('--workers 2: both workers serve the port, /metrics sums them, SIGTERM stops them all', async () => {
  const kv = new RoomBoard();
  nodes.push(await FakeNode.start(goodPrefill(kv)), await FakeNode.start(goodDecode(kv)));
  const [prefill, decode] = nodes;
  const router = await startProcess(['--role', 'router', '--prefill', prefill.url, '9123', '--decode', decode.url, '--port', '0', '--registry-port', '0', '--log-level', 'debug', '--workers', String(WORKERS)]);
  const deadline = Date.now() + ALL_LISTENING_MS;
  await waitForLogLine(router, ['"msg":"router workers listening"'], ALL_LISTENING_MS, "a 'router workers listening' line");

  for (let i = 0; i < REQUESTS; i++) assert.equal(await postFresh(`${router.url}/generate`, JSON.stringify({ text: `hello ${i}`, sampling_params: { max_new_tokens: 2 } })), 200);
  const sendingLines = (): { msg: string; pid: number }[] => router.logs.map((l) => JSON.parse(l) as { msg: string; pid: number }).filter((l) => l.msg === 'sending to a prefill/decode pair');
  // Log lines are written asynchronously (src/log/logger.ts): the last ones may come after their answers.
  while (sendingLines().length < REQUESTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  const sending = sendingLines();
  assert.equal(sending.length, REQUESTS, 'one debug line per request');
  const pids = new Set(sending.map((l) => l.pid));
  assert.equal(pids.size, WORKERS, `requests went to ${pids.size} worker(s), not ${WORKERS}`);
  assert.ok(!pids.has(router.child.pid!), 'the primary serves no request');
  // Each worker reads the registry the primary hosts, as a remote one.
  const polls = router.logs.filter((l) => l.includes('"msg":"using the membership at'));
  assert.equal(polls.length, WORKERS, router.logs.join('\n'));
  assert.ok(!router.logs.some((l) => l.includes('node source poll failed')), 'the workers read the primary\'s registry');

  const metrics = await (await fetch(`${router.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  assert.equal(metricValue(metrics, 'pd_node_router_requests_total{route="/generate",outcome="success"}'), REQUESTS, 'every worker counted');
  assert.equal(metricValue(metrics, 'pd_node_router_nodes{role="decode",state="up"}'), 1, 'a node counted once, not once per worker');
  // sgl-router's names for the same data, aggregated the same way.
  assert.equal(metricValue(metrics, 'sgl_router_requests_total{route="/generate",outcome="success"}'), REQUESTS);
  assert.equal(metricValue(metrics, 'sgl_router_request_duration_seconds_count{route="/generate"}'), REQUESTS);
  assert.equal(metricValue(metrics, 'sgl_router_active_workers'), 2, 'both nodes, counted once');
  assert.equal(metricValue(metrics, `sgl_router_worker_health{worker="${decode.url}",role="decode"}`), 1);
  assert.equal(metricValue(metrics, `sgl_router_running_requests{worker="${decode.url}",role="decode"}`), 0, 'nothing in flight');

  await killProcess(router, 'SIGTERM');
  assert.equal(router.child.exitCode, 0, router.logs.join('\n'));
  for (const pid of pids) assert.ok(!alive(pid), `worker ${pid} stopped with the primary`);
});
