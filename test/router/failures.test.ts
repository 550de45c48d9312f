/**
 * Failures between the router and the nodes: retries on a fresh pair (refused connection, 5xx from
 * either side) with the other side's request cancelled; no retry on a 4xx; exhaustion answers that
 * name every attempt; client disconnects cancel both upstream requests; a stream broken after it
 * started ends with an SSE error event; a timeout is a 504; a full node (503 + Retry-After) is tried
 * again after its wait unless another pair is free, and the client sees 503 + Retry-After only when
 * every attempt found it full.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startRouter } from '../../src/router/start-router.js';
import { metricValue, sseData } from '../server/support.js';
import { BOOTSTRAP_PORT, post, startCluster, startClusterWithDeadPrefill } from './cluster.js';
import { failing, FakeNode, fullThen, goodDecode, goodPrefill, hanging, refusedPort, RoomBoard, streamThen } from './fake-pd-node.js';

const BODY = JSON.stringify({ text: 'hello', sampling_params: { max_new_tokens: 2 } });

async function metrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

async function routerNodes(url: string): Promise<{ url: string; up: boolean; load: number }[]> {
  const info = (await (await fetch(`${url}/get_server_info`)).json()) as { router: { nodes: { url: string; up: boolean; load: number }[] } };
  return info.router.nodes;
}

describe('router failures', { timeout: 60_000 }, () => {
  test('a prefill that refuses connections: retried on the other prefill, then skipped while down', async () => {
    const c = await startClusterWithDeadPrefill();
    const { router, dead, good } = c;
    try {
      const first = await post(`${router.url}/generate`, BODY);
      assert.equal(first.status, 200);
      assert.equal(JSON.parse(first.text).text, ' decoded text');
      assert.equal(good.generations.length, 1);
      assert.equal(good.generations[0].json.bootstrap_port, BOOTSTRAP_PORT + 1, 'the retry names the prefill that serves it');
      let text = await metrics(router.url);
      assert.equal(metricValue(text, 'pd_node_router_retries_total{route="/generate"}'), 1);
      assert.equal(metricValue(text, 'pd_node_router_upstream_errors_total{role="prefill",kind="connect"}'), 1);
      assert.equal(metricValue(text, 'pd_node_router_nodes{role="prefill",state="down"}'), 1);
      assert.equal((await routerNodes(router.url)).find((n) => n.url === dead)?.up, false);

      // Down: round-robin's turn for the dead node passes to the live one, with no failed attempt.
      for (let i = 0; i < 2; i++) assert.equal((await post(`${router.url}/generate`, BODY)).status, 200);
      text = await metrics(router.url);
      assert.equal(metricValue(text, 'pd_node_router_retries_total{route="/generate"}'), 1);
      assert.equal(metricValue(text, 'pd_node_router_requests_total{route="/generate",outcome="success"}'), 3);
      assert.equal(good.generations.length, 3);
    } finally {
      await c.close();
    }
  });

  test('a prefill 500: the decode request of that attempt is cancelled, and a fresh pair with a new room serves', async () => {
    const kv = new RoomBoard();
    const decodeAsked = new RoomBoard();
    // The bad prefill answers 500 only once the decode node holds the room, so the cancel is observable.
    const c = await startCluster([failing(500, (req) => decodeAsked.waitFor(req.rooms)), goodPrefill(kv)], [goodDecode(kv, decodeAsked)]);
    try {
      const { status, text } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 200);
      assert.equal(JSON.parse(text).text, ' decoded text');
      const [bad, good] = c.prefills;
      const decode = c.decodes[0];
      assert.equal(bad.generations.length, 1);
      assert.equal(good.generations.length, 1);
      assert.equal(decode.generations.length, 2);
      await decode.generations[0].cutOff; // the failed attempt's decode request saw its connection close
      assert.deepEqual(decode.generations.map((r) => r.rooms[0]), [bad.generations[0].rooms[0], good.generations[0].rooms[0]]);
      assert.notEqual(bad.generations[0].rooms[0], good.generations[0].rooms[0], 'a new room for the retry');
      const nodes = await routerNodes(c.router.url);
      assert.equal(nodes.find((n) => n.url === bad.url)?.up, true, 'a 5xx does not take a node down');
      const m = await metrics(c.router.url);
      assert.equal(metricValue(m, 'pd_node_router_upstream_errors_total{role="prefill",kind="http_5xx"}'), 1);
      assert.equal(metricValue(m, 'pd_node_router_retries_total{route="/generate"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('a decode 500: the prefill request is cancelled and another decode node serves', async () => {
    const kv = new RoomBoard();
    const decodeAsked = new RoomBoard();
    const prefillArrived = new RoomBoard();
    // The prefill holds each room until a decode node asks for it, as real prefill nodes do.
    const prefill = goodPrefill(kv, decodeAsked);
    const c = await startCluster(
      [(req, res) => (prefillArrived.publish(req.rooms), prefill(req, res))],
      [failing(503, (req) => prefillArrived.waitFor(req.rooms)), goodDecode(kv, decodeAsked)],
    );
    try {
      const { status } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 200);
      const p = c.prefills[0];
      assert.equal(p.generations.length, 2);
      await p.generations[0].cutOff;
      assert.equal(c.decodes[0].generations.length, 1);
      assert.equal(c.decodes[1].generations.length, 1);
      assert.equal(c.decodes[1].generations[0].rooms[0], p.generations[1].rooms[0]);
    } finally {
      await c.close();
    }
  });

  test('a 4xx is the client’s: relayed as is, the other side cancelled, no retry', async () => {
    const c = await startCluster([hanging], [failing(400)]);
    try {
      const { status, text } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 400);
      assert.equal(JSON.parse(text).error.message, 'fake failure 400');
      await c.prefills[0].generations[0].cutOff;
      assert.equal(c.prefills[0].generations.length, 1);
      assert.equal(c.decodes[0].generations.length, 1);
      const m = await metrics(c.router.url);
      assert.equal(metricValue(m, 'pd_node_router_retries_total{route="/generate"}'), 0);
      assert.equal(metricValue(m, 'pd_node_router_requests_total{route="/generate",outcome="client_error"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('every attempt failing: the last node status, and a message naming every attempt', async () => {
    const c = await startCluster([failing(500), failing(500)], [hanging], { maxRetries: 5 });
    try {
      const { status, text } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 500);
      const message: string = JSON.parse(text).error.message;
      for (const p of c.prefills) assert.ok(message.includes(`prefill node ${p.url} answered 500: fake failure 500`), message);
      assert.match(message, /attempt 1: .*attempt 2: .*no further pair: no prefill node is available/);
      assert.equal(metricValue(await metrics(c.router.url), 'pd_node_router_requests_total{route="/generate",outcome="unavailable"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('a full node (503 + Retry-After) and no other pair: the same pair again once the wait is over', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [fullThen(1, goodDecode(kv))]);
    try {
      const started = performance.now();
      const { status } = await post(`${c.router.url}/generate`, BODY);
      const ms = performance.now() - started;
      assert.equal(status, 200);
      assert.equal(c.decodes[0].generations.length, 2);
      assert.ok(ms >= 1000, `the router waited the Retry-After (${ms.toFixed(0)} ms)`);
      assert.equal(metricValue(await metrics(c.router.url), 'pd_node_router_retries_total{route="/generate"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('a full node with another pair free: retried there at once', async () => {
    const kv = new RoomBoard();
    // round_robin starts at the first decode node: the full one.
    const c = await startCluster([goodPrefill(kv)], [fullThen(Infinity, hanging), goodDecode(kv)], { policy: 'round_robin' });
    try {
      const started = performance.now();
      const { status } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 200);
      assert.ok(performance.now() - started < 1000, 'no wait: the other decode node had room');
      assert.equal(c.decodes[0].generations.length, 1);
      assert.equal(c.decodes[1].generations.length, 1);
    } finally {
      await c.close();
    }
  });

  test('nodes full for longer than --queue-timeout-secs: 503 + Retry-After to the client, never a 4xx', async () => {
    const c = await startCluster([hanging], [fullThen(Infinity, hanging)], { maxRetries: 0, queueTimeoutSecs: 2 });
    try {
      const started = performance.now();
      const res = await fetch(`${c.router.url}/generate`, { method: 'POST', body: BODY });
      const ms = performance.now() - started;
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      const message: string = ((await res.json()) as { error: { message: string } }).error.message;
      assert.match(message, /attempt 1: .*full.*attempt 2: .*full/);
      // Full answers do not spend --max-retries 0: the request came back after each Retry-After until its queue wait ran out.
      assert.ok(c.decodes[0].generations.length >= 2, `attempts: ${c.decodes[0].generations.length}`);
      assert.ok(ms >= 2000, `the request waited its queue timeout (${ms.toFixed(0)} ms)`);
    } finally {
      await c.close();
    }
  });

  test('full answers do not spend --max-retries: a burst waits for room instead of failing', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [fullThen(3, goodDecode(kv))], { maxRetries: 0 });
    try {
      const { status } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 200);
      assert.equal(c.decodes[0].generations.length, 4, 'three full answers, then served');
    } finally {
      await c.close();
    }
  });

  test('no node answering at all: 503 naming what was tried', async () => {
    const dead = `http://127.0.0.1:${await refusedPort()}`;
    const decode = await FakeNode.start(hanging);
    const router = await startRouter({ port: 0, logLevel: 'silent', prefill: [{ url: dead, bootstrapPort: 9001 }], decode: [{ url: decode.url }] });
    try {
      const { status, text } = await post(`${router.url}/generate`, BODY);
      assert.equal(status, 503);
      const err = JSON.parse(text).error;
      assert.equal(err.type, 'service_unavailable');
      assert.ok(err.message.includes(`prefill node ${dead}: cannot connect to`), err.message);
      assert.match(err.message, /ECONNREFUSED/);
      // Now the only prefill is down: nothing is tried.
      const again = await post(`${router.url}/generate`, BODY);
      assert.equal(again.status, 503);
      assert.match(JSON.parse(again.text).error.message, /^no prefill node is available: .* \(down: cannot connect/);
    } finally {
      await router.close();
      await decode.close();
    }
  });

  test('a client that disconnects before the answer: both upstream requests are cancelled', async () => {
    const c = await startCluster([hanging], [hanging]);
    try {
      const client = new AbortController();
      const pending = post(`${c.router.url}/generate`, BODY, client.signal).catch((e: unknown) => e);
      await c.prefills[0].waitForGenerations(1);
      await c.decodes[0].waitForGenerations(1);
      client.abort();
      assert.equal(((await pending) as Error).name, 'AbortError');
      await c.prefills[0].generations[0].cutOff;
      await c.decodes[0].generations[0].cutOff;
      const nodes = await waitForLoads(c.router.url, 0);
      assert.ok(nodes.every((n) => n.load === 0));
      assert.equal(metricValue(await metrics(c.router.url), 'pd_node_router_requests_total{route="/generate",outcome="aborted"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('a client that leaves a stream: both upstream requests are cancelled', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [streamThen('hold')]);
    try {
      const client = new AbortController();
      const res = await fetch(`${c.router.url}/generate`, { method: 'POST', body: BODY.replace('{', '{"stream":true,'), signal: client.signal });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /^data: \{"text":" first"/);
      client.abort();
      await reader.closed.catch(() => undefined);
      await c.decodes[0].generations[0].cutOff;
      await waitForLoads(c.router.url, 0);
    } finally {
      await c.close();
    }
  });

  test('a stream that breaks after it started ends with an error event and [DONE], not a retry', async () => {
    const kv = new RoomBoard();
    const c = await startCluster([goodPrefill(kv)], [streamThen('cut'), streamThen('cut')]);
    try {
      const res = await fetch(`${c.router.url}/generate`, { method: 'POST', body: BODY.replace('{', '{"stream":true,') });
      assert.equal(res.status, 200);
      const data = sseData(await res.text());
      assert.equal(data.length, 3);
      assert.equal(JSON.parse(data[0]).text, ' first');
      const err = JSON.parse(data[1]).error;
      assert.match(err.message, new RegExp(`^decode node ${c.decodes[0].url}: connection to .* (broke|closed)`));
      assert.equal(err.type, 'server_error');
      assert.equal(data[2], '[DONE]');
      assert.equal(c.decodes[1].generations.length, 0, 'no retry once bytes reached the client');
      assert.equal(metricValue(await metrics(c.router.url), 'pd_node_router_requests_total{route="/generate",outcome="failed"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('a node that never answers: 504 after the request timeout, both requests cancelled, no retry', async () => {
    const c = await startCluster([hanging, hanging], [hanging], { requestTimeoutSecs: 0.2 });
    try {
      const { status, text } = await post(`${c.router.url}/generate`, BODY);
      assert.equal(status, 504);
      assert.match(JSON.parse(text).error.message, /timed out after 0.2 s/);
      await c.prefills[0].generations[0].cutOff;
      await c.decodes[0].generations[0].cutOff;
      assert.equal(c.prefills[1].generations.length, 0);
      assert.equal(metricValue(await metrics(c.router.url), 'pd_node_router_requests_total{route="/generate",outcome="timeout"}'), 1);
    } finally {
      await c.close();
    }
  });

  test('closing the router answers requests in flight instead of leaving them hanging', async () => {
    const c = await startCluster([hanging], [hanging]);
    try {
      const pending = post(`${c.router.url}/generate`, BODY);
      await c.decodes[0].waitForGenerations(1);
      await c.router.close();
      const { status, text } = await pending;
      assert.equal(status, 503);
      assert.match(JSON.parse(text).error.message, /shutting down/);
      await c.decodes[0].generations[0].cutOff;
    } finally {
      await c.close();
    }
  });
});

/** Loads drop when the upstream exchanges end, just after the client sees its answer: bounded polling. */
async function waitForLoads(url: string, load: number): Promise<{ load: number }[]> {
  for (let i = 0; ; i++) {
    const nodes = await routerNodes(url);
    if (nodes.every((n) => n.load === load)) return nodes;
    if (i > 2000) assert.fail(`node loads still ${JSON.stringify(nodes)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
