/**
 * The router's /metrics after routed requests: every family with its HELP, TYPE and labels as
 * before the router's instruments left prom-client (SGLang/sgl-router compatible names), counts
 * equal to what was sent, histograms whose buckets rise to +Inf = _count = the requests counted,
 * and the `sgl_router_*` series equal to the `pd_node_router_*` ones they rename.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { post, startClusterWithDeadPrefill } from './cluster.js';

const BODY = JSON.stringify({ text: 'hello', sampling_params: { max_new_tokens: 2 } });
const GENERATE = 4;
const COMPLETIONS = 2;
const LATENCY_BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '120', '300', '600', '+Inf'];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Family {
  help: string;
  type: string;
  samples: Sample[];
}

/** Prometheus text, parsed strictly: a sample must follow its family's HELP and TYPE. */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let help = null as { name: string; text: string } | null;
  let current = null as { name: string; family: Family } | null;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (comment?.[1] === 'HELP') help = { name: comment[2], text: comment[3] };
    else if (comment?.[1] === 'TYPE') {
      assert.equal(help?.name, comment[2], `HELP before TYPE for ${comment[2]}`);
      assert.ok(!families.has(comment[2]), `${comment[2]} is exposed once`);
      current = { name: comment[2], family: { help: help.text, type: comment[3], samples: [] } };
      families.set(current.name, current.family);
    } else {
      const sample = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(sample !== null, `a sample line: ${line}`);
      assert.ok(current !== null && sample[1].startsWith(current.name), `${sample[1]} follows its family's TYPE`);
      const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      current.family.samples.push({ name: sample[1], labels, value: Number(sample[3]) });
    }
  }
  return families;
}

function family(all: Map<string, Family>, name: string, type: string, labels: string[]): Family {
  const f = all.get(name);
  assert.ok(f !== undefined, `${name} is exposed`);
  assert.equal(f.type, type, `${name} is a ${type}`);
  assert.ok(f.help.length > 0, `${name} has a HELP text`);
  for (const s of f.samples) {
    const expected = s.name === `${name}_bucket` ? [...labels, 'le'] : labels;
    assert.deepEqual(Object.keys(s.labels).sort(), [...expected].sort(), `labels of ${s.name}`);
  }
  return f;
}

function value(f: Family, name: string, labels: Record<string, string>): number {
  const found = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

/** Checks one duration histogram and returns its _count per route. */
function histogramCounts(f: Family, name: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const route of new Set(f.samples.map((s) => s.labels.route))) {
    const buckets = f.samples.filter((s) => s.name === `${name}_bucket` && s.labels.route === route);
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      LATENCY_BUCKETS,
      `${name} bucket bounds of ${route}`,
    );
    for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} buckets of ${route} are cumulative`);
    const count = value(f, `${name}_count`, { route });
    assert.equal(buckets.at(-1)?.value, count, `${name}: +Inf bucket = _count for ${route}`);
    const sum = value(f, `${name}_sum`, { route });
    assert.ok(count === 0 ? sum === 0 : sum > 0, `${name}_sum of ${route} matches its count`);
    counts.set(route, count);
  }
  return counts;
}

test('/metrics after routed requests: names, types, labels, buckets and counts', { timeout: 60_000 }, async () => {
  // the first request is retried: its first prefill refuses connections
  const c = await startClusterWithDeadPrefill();
  const { router, dead, decode } = c;
  try {
    for (let i = 0; i < GENERATE; i++) assert.equal((await post(`${router.url}/generate`, BODY)).status, 200);
    for (let i = 0; i < COMPLETIONS; i++) assert.equal((await post(`${router.url}/v1/completions`, JSON.stringify({ model: 'm', prompt: 'hello', max_tokens: 2 }))).status, 200);
    assert.equal((await post(`${router.url}/generate`, JSON.stringify({ text: 'hi', bootstrap_room: 1 }))).status, 400);
    assert.equal(decode.generations.length, GENERATE + COMPLETIONS, 'every good request reached the decode node');

    const res = await fetch(`${router.url}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const all = parse(await res.text());

    const requests = family(all, 'pd_node_router_requests_total', 'counter', ['route', 'outcome']);
    assert.equal(value(requests, 'pd_node_router_requests_total', { route: '/generate', outcome: 'success' }), GENERATE);
    assert.equal(value(requests, 'pd_node_router_requests_total', { route: '/v1/completions', outcome: 'success' }), COMPLETIONS);
    assert.equal(value(requests, 'pd_node_router_requests_total', { route: '/generate', outcome: 'client_error' }), 1);
    const sent = GENERATE + COMPLETIONS + 1;
    assert.equal(
      requests.samples.reduce((a, s) => a + s.value, 0),
      sent,
      'every request counted once',
    );
    const retries = family(all, 'pd_node_router_retries_total', 'counter', ['route']);
    assert.equal(value(retries, 'pd_node_router_retries_total', { route: '/generate' }), 1);
    const errors = family(all, 'pd_node_router_upstream_errors_total', 'counter', ['role', 'kind']);
    assert.equal(value(errors, 'pd_node_router_upstream_errors_total', { role: 'prefill', kind: 'connect' }), 1);
    assert.equal(errors.samples.reduce((a, s) => a + s.value, 0), 1, 'the dead prefill was tried once, then skipped while down');

    const latency = histogramCounts(family(all, 'pd_node_router_request_duration_seconds', 'histogram', ['route']), 'pd_node_router_request_duration_seconds');
    for (const [route, count] of latency) {
      const counted = requests.samples.filter((s) => s.labels.route === route).reduce((a, s) => a + s.value, 0);
      assert.equal(count, counted, `duration _count = requests counted for ${route}`);
    }
    assert.equal(latency.get('/generate'), GENERATE + 1);

    const nodes = family(all, 'pd_node_router_nodes', 'gauge', ['role', 'state']);
    assert.equal(value(nodes, 'pd_node_router_nodes', { role: 'prefill', state: 'down' }), 1);
    assert.equal(value(nodes, 'pd_node_router_nodes', { role: 'prefill', state: 'up' }), 1);
    assert.equal(value(nodes, 'pd_node_router_nodes', { role: 'decode', state: 'up' }), 1);

    // sgl-router's names: the same series, some labels renamed.
    const renamed: [string, string, string, string[], Record<string, string>][] = [
      ['sgl_router_requests_total', 'pd_node_router_requests_total', 'counter', ['route', 'outcome'], {}],
      ['sgl_router_retries_total', 'pd_node_router_retries_total', 'counter', ['route'], {}],
      ['sgl_router_pd_errors_total', 'pd_node_router_upstream_errors_total', 'counter', ['role', 'error_type'], { error_type: 'kind' }],
      ['sgl_router_request_duration_seconds', 'pd_node_router_request_duration_seconds', 'histogram', ['route'], {}],
    ];
    for (const [name, source, type, labels, from] of renamed) {
      const sgl = family(all, name, type, labels);
      const ours = all.get(source)!;
      assert.deepEqual(
        sgl.samples.map((s) => [s.name.slice(name.length), Object.fromEntries(Object.entries(s.labels).map(([k, v]) => [from[k] ?? k, v])), s.value]),
        ours.samples.map((s) => [s.name.slice(source.length), s.labels, s.value]),
        `${name} = ${source}`,
      );
    }
    histogramCounts(all.get('sgl_router_request_duration_seconds')!, 'sgl_router_request_duration_seconds');
    assert.equal(value(family(all, 'sgl_router_active_workers', 'gauge', []), 'sgl_router_active_workers', {}), 2);
    const health = family(all, 'sgl_router_worker_health', 'gauge', ['worker', 'role']);
    assert.equal(value(health, 'sgl_router_worker_health', { worker: dead, role: 'prefill' }), 0);
    assert.equal(value(health, 'sgl_router_worker_health', { worker: decode.url, role: 'decode' }), 1);
    for (const name of ['sgl_router_worker_load', 'sgl_router_running_requests']) {
      const load = family(all, name, 'gauge', ['worker', 'role']);
      assert.equal(load.samples.reduce((a, s) => a + s.value, 0), 0, `${name}: nothing in flight`);
    }
  } finally {
    await c.close();
  }
});
