/**
 * Hostile peers against the ZeroMQ control plane of a real cluster (router hosting the registry, a
 * prefill and a decode node, all holding the default cluster secret), with legitimate requests
 * through the router before and after every attack.
 *
 * Strangers come in three kinds: another secret; another secret but the cluster's server public
 * key (learned somehow); no CURVE at all. None of them can register, heartbeat, deregister or query,
 * get a page list or a room failure into a prefill's scheduler, or take a decode node's routing id.
 * A node holding the secret cannot change another live node's record. Frames of 100 MB and a flood
 * of 2 MB frames at the bootstrap port and at the registry leave the target's RSS flat and its
 * /health fast while router traffic keeps succeeding; the figures are printed for the report.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dealer, type SocketOptions } from 'zeromq';
import { createLogger } from '../../src/log/logger.js';
import type { NodeRecord } from '../../src/registry/protocol.js';
import { RegistryClient, RegistryError } from '../../src/registry/registry-client.js';
import { loadClusterSecret } from '../../src/security/cluster-secret.js';
import { curveClientOptions, curveKeys } from '../../src/security/curve-keys.js';
import { getJson, postJson, stopAll, waitForFreePool, waitForLogLine, type NodeProcess } from '../helpers/processes.js';
import { startCluster, type Cluster } from '../pd/cluster.js';
import { FakeDecode } from '../pd/fake-decode.js';
import { refusedPort } from '../router/fake-pd-node.js';
import { zmtpFlood, type FloodResult } from './zmtp-flood.js';

const log = createLogger('silent');
const cluster = curveKeys(loadClusterSecret(null).key);
const stranger = curveKeys(randomBytes(32));
/** A bound on every wait for an answer that must not come (ZeroMQ reconnects every 100 ms meanwhile). */
const SILENCE_MS = 1500;

const STRANGERS: readonly { name: string; options: SocketOptions<Dealer> }[] = [
  { name: 'another secret', options: curveClientOptions(stranger) },
  { name: "the cluster's server key without the secret", options: { ...curveClientOptions(stranger), curveServerKey: cluster.server.publicKey } },
  { name: 'no CURVE', options: {} },
];

/** Sends `frame` on a fresh DEALER with `options`; resolves with the reply, or null if none came within SILENCE_MS. */
async function reply(url: string, options: SocketOptions<Dealer>, frame: string): Promise<string | null> {
  const socket = new Dealer({ linger: 0, receiveTimeout: SILENCE_MS, sendTimeout: SILENCE_MS, ...options });
  socket.connect(url);
  try {
    await socket.send(frame);
    return (await socket.receive())[0].toString();
  } catch (err) {
    if ((err as { code?: string }).code === 'EAGAIN') return null;
    throw err;
  } finally {
    socket.close();
  }
}

function owner(): string {
  return randomBytes(16).toString('hex');
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

interface AttackFigures {
  flood: FloodResult;
  rssBeforeMb: number;
  rssMaxMb: number;
  rssAfterMb: number;
  healthMaxMs: number;
  healthChecks: number;
  legitOk: number;
  legitFailed: string[];
}

describe('hostile peers on the control plane', () => {
  let c: Cluster;
  let prefill: NodeProcess;
  let decode: NodeProcess;
  let registry: RegistryClient;
  let prefillRecord: NodeRecord;
  let decodeRecord: NodeRecord;
  const fakes: FakeDecode[] = [];

  /** `n` requests through the router, one after another; every one must succeed. */
  async function legitRequests(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await postJson(`${c.router.url}/generate`, { text: `legit request ${i}`, sampling_params: { max_new_tokens: 4, temperature: 0 } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  }

  /** A room opened straight on the prefill node; its request waits for a page list. */
  function openRoom(room: string): Promise<{ status: number; body: any }> {
    return postJson(
      `${prefill.url}/generate`,
      `{"text":"hostile room","sampling_params":{"max_new_tokens":2},"bootstrap_host":"127.0.0.1","bootstrap_port":${prefill.bootstrapPort},"bootstrap_room":${room}}`,
    );
  }

  function fake(peerId: string, options?: SocketOptions<Dealer>): FakeDecode {
    const f = new FakeDecode(peerId, prefill.bootstrapPort!, c.modelPath, options);
    fakes.push(f);
    return f;
  }

  before(async () => {
    c = await startCluster('tcp');
    prefill = await c.addNode('prefill');
    decode = await c.addNode('decode');
    await c.waitForNodes([prefill, decode]);
    registry = RegistryClient.connect(c.router.registryUrl!, { curve: cluster, log });
    const nodes = await registry.query();
    prefillRecord = nodes.find((n) => n.httpUrl === prefill.url)!;
    decodeRecord = nodes.find((n) => n.httpUrl === decode.url)!;
    assert.ok(prefillRecord && decodeRecord, JSON.stringify(nodes));
    await legitRequests(2); // the decode node's DEALER to the prefill node exists from here on
  });

  after(async () => {
    for (const f of fakes) f.close();
    registry?.close();
    await stopAll();
  });

  test('every process logs where its cluster secret came from, once', () => {
    const source = loadClusterSecret(null).source;
    for (const p of [c.router, prefill, decode]) {
      const lines = p.logs.filter((l) => l.includes('"msg":"cluster secret"'));
      assert.equal(lines.length, 1, p.args.join(' '));
      assert.equal(JSON.parse(lines[0]).clusterSecret, source);
    }
  });

  test('(a, c) a stranger cannot register (the router never routes to it) and cannot query', async () => {
    const url = c.router.registryUrl!;
    const baitPort = await refusedPort();
    for (const s of STRANGERS) {
      const id = `rogue-${s.name.replace(/\W+/g, '-')}`;
      const rogue: NodeRecord = { ...decodeRecord, id, httpUrl: `http://127.0.0.1:${baitPort}` };
      assert.equal(await reply(url, s.options, JSON.stringify({ v: 1, seq: 1, type: 'register', node: rogue, owner: owner() })), null, `register (${s.name})`);
      assert.equal(await reply(url, s.options, JSON.stringify({ v: 1, seq: 2, type: 'query' })), null, `query (${s.name})`);
    }
    const listed = await registry.query();
    assert.deepEqual(listed.map((n) => n.id).sort(), [prefillRecord.id, decodeRecord.id].sort());
    const info = await getJson(`${c.router.url}/get_server_info`);
    assert.deepEqual((info.router.nodes as { url: string }[]).map((n) => n.url).sort(), [prefill.url, decode.url].sort());
    // The same frames from a holder of the secret are answered: the silence above was the refusal.
    assert.match((await reply(url, curveClientOptions(cluster), JSON.stringify({ v: 1, seq: 3, type: 'query' })))!, /"type":"nodes"/);
    await legitRequests(3);
  });

  test('(b) a stranger cannot heartbeat or deregister a live node; a holder of the secret cannot take its record', async () => {
    const url = c.router.registryUrl!;
    for (const s of STRANGERS) {
      for (const type of ['heartbeat', 'deregister']) {
        assert.equal(await reply(url, s.options, JSON.stringify({ v: 1, seq: 1, type, id: decodeRecord.id, owner: owner() })), null, `${type} (${s.name})`);
      }
    }
    // Inside the cluster: a register of the live id is refused, and so are heartbeat and deregister with another owner token.
    const insider = RegistryClient.connect(url, { curve: cluster, log, requestTimeoutMs: 2000 });
    try {
      await assert.rejects(insider.register({ ...decodeRecord, httpUrl: 'http://127.0.0.1:1' }, { heartbeatIntervalMs: 60_000 }), (err: Error) => err instanceof RegistryError && err.code === 'not_owner');
    } finally {
      insider.close();
    }
    for (const type of ['heartbeat', 'deregister']) {
      const answer = await reply(url, curveClientOptions(cluster), JSON.stringify({ v: 1, seq: 1, type, id: decodeRecord.id, owner: owner() }));
      assert.match(answer ?? 'no answer', /"code":"not_owner"/, type);
    }
    assert.deepEqual((await registry.query()).find((n) => n.id === decodeRecord.id), decodeRecord);
    await sleep(SILENCE_MS); // past a router poll: the record and the route are intact
    await legitRequests(3);
    const info = await getJson(`${c.router.url}/get_server_info`);
    assert.ok((info.router.nodes as { url: string; up: boolean }[]).some((n) => n.url === decode.url && n.up));
  });

  test('(d) a stranger cannot get a page list or a room failure into a prefill node', async () => {
    const openRooms = async (): Promise<number> => (await getJson(`${prefill.url}/get_server_info`)).scheduler_stats.pd_rooms;
    const room = '7000000000000000001';
    // The prefill node holds the room (not computed until a decode node claims it) and waits for its page list.
    const opened = openRoom(room);
    for (const deadline = Date.now() + 10_000; (await openRooms()) !== 1 && Date.now() < deadline; ) await sleep(50);
    assert.equal(await openRooms(), 1);
    const refused = { backend: 'tcp' as const, host: '127.0.0.1', port: await refusedPort() };
    for (const [i, s] of STRANGERS.entries()) {
      const f = fake(`stranger-${i}`, { ...s.options, sendTimeout: SILENCE_MS });
      // Either would end the room at once if it reached the scheduler: the page list names a dead endpoint.
      await f.requestKv(room, refused, [0, 1, 2, 3]).catch(() => undefined);
      await f.roomFailed(room, 'stranger says so').catch(() => undefined);
    }
    await sleep(SILENCE_MS);
    assert.equal(await openRooms(), 1, 'the room still waits for its page list');
    await waitForLogLine(prefill, ['client refused: it does not hold the cluster secret'], 10_000, 'the ZAP handler refused the stranger that knew the server key');
    assert.ok(!prefill.logs.some((l) => l.includes('stranger-')), 'no line of the prefill node names a stranger');

    // The same page list from a holder of the secret reaches the scheduler and ends the room.
    const legit = fake('fake-decode-legit');
    await legit.requestKv(room, refused, [0, 1, 2, 3]);
    const notice = await legit.notice(room);
    assert.equal(notice.type, 'room_failed', JSON.stringify(notice));
    assert.match(notice.type === 'room_failed' ? notice.message : '', /cannot connect/);
    // The claim queues the prompt for compute; the failed connect ends the room. Which comes first
    // decides the prefill's own answer (200, or 502 naming the connect); decode was told either way.
    const answered = await opened;
    assert.ok(answered.status === 200 || (answered.status === 502 && /cannot connect/.test(answered.body.error.message)), JSON.stringify(answered.body));
    await waitForFreePool(prefill.url);
    await legitRequests(3);
  });

  test("(e) a stranger cannot take a decode node's routing id; a holder of the secret reconnecting with one is accepted at once (handover)", async () => {
    for (const s of STRANGERS) fake(decodeRecord.id, s.options);
    await sleep(SILENCE_MS);
    await legitRequests(4); // the prefill node's notices still reach the real decode node
    assert.ok(!prefill.logs.some((l) => l.includes('decode node reconnected') && l.includes(decodeRecord.id)), 'nobody took over the decode node\'s id');

    // Handover: the first connection with id "dup" stays open (never reconnecting); a second one with the same id takes it over.
    const refused = { backend: 'tcp' as const, host: '127.0.0.1', port: await refusedPort() };
    const first = fake('dup', { ...FakeDecode.clusterOptions(), reconnectInterval: -1 });
    const opened2 = openRoom('7000000000000000002');
    await first.requestKv('7000000000000000002', refused, [0, 1, 2, 3]);
    assert.equal((await first.notice('7000000000000000002')).type, 'room_failed');
    assert.ok([200, 502].includes((await opened2).status));
    const second = fake('dup', { ...FakeDecode.clusterOptions(), probeRouter: true });
    const third = openRoom('7000000000000000003');
    await second.requestKv('7000000000000000003', refused, [0, 1, 2, 3]);
    assert.equal((await second.notice('7000000000000000003', 5000)).type, 'room_failed', 'the notice went to the new connection');
    assert.ok([200, 502].includes((await third).status));
    await waitForLogLine(prefill, ['decode node reconnected', '"peerId":"dup"'], 10_000, 'the prefill node logged the reconnection');
  });

  /** Floods `port` while polling `healthUrl`, sampling `pid`'s RSS and sending router requests. */
  async function underAttack(pid: number, healthUrl: string, attack: () => Promise<FloodResult>): Promise<AttackFigures> {
    const rssBeforeMb = rssMb(pid);
    let rssMaxMb = rssBeforeMb;
    let healthMaxMs = 0;
    let healthChecks = 0;
    let legitOk = 0;
    const legitFailed: string[] = [];
    let running = true;
    const sampler = (async () => {
      while (running) {
        rssMaxMb = Math.max(rssMaxMb, rssMb(pid));
        const t0 = performance.now();
        const res = await fetch(healthUrl, { signal: AbortSignal.timeout(10_000) });
        healthMaxMs = Math.max(healthMaxMs, performance.now() - t0);
        healthChecks++;
        assert.equal(res.status, 200);
        await sleep(100);
      }
    })();
    const traffic = (async () => {
      while (running) {
        const res = await postJson(`${c.router.url}/generate`, { text: 'during the flood', sampling_params: { max_new_tokens: 4, temperature: 0 } });
        if (res.status === 200) legitOk++;
        else legitFailed.push(`${res.status} ${JSON.stringify(res.body)}`);
      }
    })();
    try {
      const flood = await attack();
      running = false;
      await Promise.all([sampler, traffic]);
      return { flood, rssBeforeMb, rssMaxMb, rssAfterMb: rssMb(pid), healthMaxMs, healthChecks, legitOk, legitFailed };
    } finally {
      running = false;
    }
  }

  function check(what: string, f: AttackFigures): void {
    const mb = (x: number): string => x.toFixed(1);
    console.log(
      `# ${what}: ${f.flood.connections} connections, ${mb(f.flood.bytesSent / 2 ** 20)} MiB taken by the kernel, ${f.flood.cutMidFrame} hung up on mid-frame; ` +
        `RSS ${mb(f.rssBeforeMb)} -> max ${mb(f.rssMaxMb)} -> ${mb(f.rssAfterMb)} MB; /health max ${f.healthMaxMs.toFixed(0)} ms over ${f.healthChecks} checks; ` +
        `router requests ${f.legitOk} ok, ${f.legitFailed.length} failed`,
    );
    assert.ok(f.rssMaxMb - f.rssBeforeMb < 100, `${what}: RSS grew by ${mb(f.rssMaxMb - f.rssBeforeMb)} MB`);
    assert.ok(f.healthMaxMs < 1000, `${what}: /health took ${f.healthMaxMs.toFixed(0)} ms`);
    assert.deepEqual(f.legitFailed, [], what);
    assert.ok(f.legitOk > 0, `${what}: legitimate requests ran during the attack`);
  }

  for (const target of ['bootstrap port', 'registry'] as const) {
    test(`100 MB frames and a flood of 2 MB frames at the ${target}: RSS flat, /health fast, router traffic unaffected`, async () => {
      const port = target === 'registry' ? Number(new URL(c.router.registryUrl!.replace('tcp://', 'http://')).port) : prefill.bootstrapPort!;
      const proc = target === 'registry' ? c.router : prefill;
      const health = `${proc.url}/health`;
      const big = await underAttack(proc.child.pid!, health, () => zmtpFlood(port, 100 * 2 ** 20, 2, 4000));
      check(`${target}, 100 MB frames`, big);
      assert.ok(big.flood.cutMidFrame > 0, 'the target hung up in the middle of a 100 MB frame');
      const flood = await underAttack(proc.child.pid!, health, () => zmtpFlood(port, 2 * 2 ** 20, 4, 8000));
      check(`${target}, 2 MB frame flood`, flood);
      assert.ok(flood.flood.bytesSent > 100 * 2 ** 20, `the flood wrote ${flood.flood.bytesSent} bytes`);

      // A holder of the secret sending a 100 MB frame is cut off by the frame bound, and its next connection works.
      const insider = new Dealer({ linger: 0, sendTimeout: 5000, receiveTimeout: 5000, ...curveClientOptions(cluster) });
      insider.connect(`tcp://127.0.0.1:${port}`);
      try {
        const rssBefore = rssMb(proc.child.pid!);
        await insider.send(Buffer.alloc(100 * 2 ** 20));
        await sleep(SILENCE_MS);
        const grown = rssMb(proc.child.pid!) - rssBefore;
        console.log(`# ${target}, one 100 MB frame from a holder of the secret: RSS ${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MB`);
        assert.ok(grown < 100, `RSS grew by ${grown.toFixed(1)} MB`);
      } finally {
        insider.close();
      }
      await legitRequests(3);
    });
  }
});
