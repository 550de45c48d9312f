/**
 * `pd-node router ARGS` with sgl-router's command lines, as processes in front of fake PD nodes:
 * seed 000's command verbatim (values of addresses and ports aside) routes; `--prefill URL none`
 * sends the node's own bootstrap port (no registry record: SGLang's default 8998) and a port given
 * is sent as given; per-role policies; `--max-concurrent-requests` refuses with 503 + Retry-After
 * while its slots are taken and admits again once they are free; `--request-timeout-secs` ends a
 * request a node never answers with 504; `--prometheus-port` serves the router's metrics; flags with
 * no effect are listed once at start-up.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { CLI_MAIN } from '../../src/cli/child-node.js';
import { postJson, startProcess, stopAll } from '../helpers/processes.js';
import { freePort } from '../registry/support.js';
import { FakeNode, goodDecode, goodPrefill, hanging, RoomBoard, type Behavior } from './fake-pd-node.js';

/** The registry a router hosts when no flag says otherwise (seed 000's command has none). */
const DEFAULT_REGISTRY_PORT = 5757;
const REQUEST = { text: 'Let me tell you a lonnng story ', sampling_params: { temperature: 0 } };

const fakes: FakeNode[] = [];
async function fake(behavior: Behavior): Promise<FakeNode> {
  const node = await FakeNode.start(behavior);
  fakes.push(node);
  return node;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise<void>((resolve) => server.close(() => resolve()));
  return free;
}

/** The bootstrap port the router wrote into a generation body. */
function bootstrapPort(node: FakeNode, index: number): number {
  return node.generations[index].json.bootstrap_port as number;
}

describe("pd-node router with sgl-router's command lines", () => {
  after(async () => {
    await stopAll();
    await Promise.all(fakes.map((f) => f.close()));
  });

  test('a bad flag exits 2 naming it, and points at pd-node router --help', () => {
    const r = spawnSync(process.execPath, [CLI_MAIN, 'router', '--pd-disaggregation', '--prefill', 'http://127.0.0.1:1', 'nine', '--decode', 'http://127.0.0.1:2'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--prefill http:\/\/127.0.0.1:1 must be followed by a bootstrap port from 1 to 65535 or none, if anything \(got "nine"\)/);
    assert.match(r.stderr, /pd-node router --help/);
  });

  test("seed 000's command, verbatim: starts and routes with the prefill node's own bootstrap port", async (t) => {
    if (!(await portIsFree(DEFAULT_REGISTRY_PORT))) {
      t.skip(`port ${DEFAULT_REGISTRY_PORT} (the hosted registry's default, which the seed command keeps) is taken on this machine`);
      return;
    }
    const kv = new RoomBoard();
    const [prefill, decode] = [await fake(goodPrefill(kv)), await fake(goodDecode(kv))];
    const port = await freePort();
    // python -m sglang_router.launch_router --pd-disaggregation --prefill http://${MASTER_ADDR}:30000 --decode http://${MASTER_ADDR_DECODE}:30001 --host 127.0.0.1 --port 8000
    const router = await startProcess(['router', '--pd-disaggregation', '--prefill', prefill.url, '--decode', decode.url, '--host', '127.0.0.1', '--port', String(port)]);
    assert.equal(router.url, `http://127.0.0.1:${port}`);
    assert.equal(router.registryUrl, `tcp://127.0.0.1:${DEFAULT_REGISTRY_PORT}`);
    const res = await postJson(`${router.url}/generate`, REQUEST);
    assert.equal(res.status, 200);
    assert.equal(res.body.text, ' decoded text');
    assert.equal(bootstrapPort(decode, 0), 8998, "no port and no registry record: SGLang's default bootstrap port");
    assert.ok(!router.logs.some((l) => l.includes('sgl-router flags accepted')), 'nothing to note');
  });

  test('--prefill URL none and URL PORT, per-role policies, notices logged once', async () => {
    const kv = new RoomBoard();
    const [ownPort, givenPort, decode] = [await fake(goodPrefill(kv)), await fake(goodPrefill(kv)), await fake(goodDecode(kv))];
    const router = await startProcess([
      'router', '--pd-disaggregation', '--prefill', ownPort.url, 'none', '--prefill', givenPort.url, '9000', '--decode', decode.url,
      '--prefill-policy', 'round_robin', '--decode-policy', 'cache_aware', '--cache-threshold', '0.3', '--selector', 'app=sglang', 'tier=gpu',
      '--host', '127.0.0.1', '--port', '0', '--registry-port', '0',
    ]);
    for (let i = 0; i < 4; i++) assert.equal((await postJson(`${router.url}/generate`, REQUEST)).status, 200);
    // round_robin over the prefill nodes: two requests each, in turn.
    assert.deepEqual([ownPort.generations.length, givenPort.generations.length], [2, 2]);
    const ports = decode.generations.map((g) => g.json.bootstrap_port);
    assert.deepEqual(ports, [8998, 9000, 8998, 9000]);
    const noted = router.logs.filter((l) => l.includes('sgl-router flags accepted for compatibility'));
    assert.equal(noted.length, 1, 'one start-up line');
    const notices = JSON.parse(noted[0]).notices as string[];
    assert.equal(notices.length, 3);
    assert.match(notices.join('\n'), /--decode-policy cache_aware runs as least_load/);
    assert.match(notices.join('\n'), /--cache-threshold is accepted for sgl-router compatibility and has no effect here/);
    assert.match(notices.join('\n'), /--selector is accepted/);
  });

  test('--max-concurrent-requests: 503 + Retry-After while the slot is taken; --request-timeout-secs: 504; the slot comes back', async () => {
    const kv = new RoomBoard();
    let first = true;
    // The decode node never answers the first request (until the router gives up), then works.
    const decodeOnce: Behavior = (req, res) => {
      if (req.method === 'POST' && first) {
        first = false;
        return hanging(req, res);
      }
      return goodDecode(kv)(req, res);
    };
    const [prefill, decode] = [await fake(goodPrefill(kv)), await fake(decodeOnce)];
    const router = await startProcess([
      'router', '--prefill', prefill.url, '--decode', decode.url, '--max-concurrent-requests', '1', '--request-timeout-secs', '2',
      '--prometheus-port', '0', '--host', '127.0.0.1', '--port', '0', '--registry-port', '0',
    ]);
    const held = postJson(`${router.url}/generate`, REQUEST);
    await decode.waitForGenerations(1);
    const refused = await fetch(`${router.url}/generate`, { method: 'POST', body: JSON.stringify(REQUEST), signal: AbortSignal.timeout(10_000) });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /--max-concurrent-requests 1/);
    assert.equal(decode.generations.length, 1, 'the refused request reached no node');

    const timedOut = await held;
    assert.equal(timedOut.status, 504, 'the request the decode node never answered ends at --request-timeout-secs');
    const again = await postJson(`${router.url}/generate`, REQUEST);
    assert.equal(again.status, 200, 'the slot is free again');

    // --prometheus-port: the router's metrics on a port of their own (0: the router logged the one it got).
    const line = router.logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; prometheusPort?: number }).find((l) => l.msg === 'router listening');
    assert.ok(line?.prometheusPort !== undefined && line.prometheusPort > 0);
    const metrics = await (await fetch(`http://127.0.0.1:${line.prometheusPort}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    assert.match(metrics, /pd_node_router_requests_total\{route="\/generate",outcome="unavailable"\} 1/);
    assert.match(metrics, /pd_node_router_requests_total\{route="\/generate",outcome="timeout"\} 1/);
    // The same counts under sgl-router's names, so its dashboards keep working.
    assert.match(metrics, /sgl_router_requests_total\{route="\/generate",outcome="timeout"\} 1/);
    assert.match(metrics, /sgl_router_request_duration_seconds_count\{route="\/generate"\} 3/);
    assert.match(metrics, /sgl_router_pd_errors_total\{role="decode",error_type="timeout"\} 1/);
    assert.match(metrics, /sgl_router_active_workers 2/);
  });
});
