/**
 * A router in front of fake PD nodes, for the router tests: every server on 127.0.0.1 with a port
 * picked at run time, all closed by `close()`.
 */
import { startRouter, type RouterHandle } from '../../src/router/start-router.js';
import type { RouterOptions } from '../../src/router/options.js';
import { FakeNode, goodDecode, goodPrefill, refusedPort, RoomBoard, type Behavior } from './fake-pd-node.js';

export const BOOTSTRAP_PORT = 9123;

export interface Cluster {
  router: RouterHandle;
  prefills: FakeNode[];
  decodes: FakeNode[];
  close(): Promise<void>;
}

export async function startCluster(prefills: Behavior[], decodes: Behavior[], options: Partial<RouterOptions> = {}): Promise<Cluster> {
  const p = await Promise.all(prefills.map((b) => FakeNode.start(b)));
  const d = await Promise.all(decodes.map((b) => FakeNode.start(b)));
  const router = await startRouter({
    port: 0,
    logLevel: 'silent',
    prefill: p.map((n, i) => ({ url: n.url, bootstrapPort: BOOTSTRAP_PORT + i })),
    decode: d.map((n) => ({ url: n.url })),
    ...options,
  });
  return {
    router,
    prefills: p,
    decodes: d,
    async close() {
      await router.close();
      await Promise.all([...p, ...d].map((n) => n.close()));
    },
  };
}

export interface DeadPrefillCluster {
  router: RouterHandle;
  /** The first --prefill: a port nothing listens on. */
  dead: string;
  /** The second --prefill (bootstrap port BOOTSTRAP_PORT + 1), which serves. */
  good: FakeNode;
  decode: FakeNode;
  close(): Promise<void>;
}

/** A router whose first prefill refuses connections: round_robin starts with it, so the first request is retried on the good one. */
export async function startClusterWithDeadPrefill(): Promise<DeadPrefillCluster> {
  const kv = new RoomBoard();
  const [good, decode] = await Promise.all([FakeNode.start(goodPrefill(kv)), FakeNode.start(goodDecode(kv))]);
  const dead = `http://127.0.0.1:${await refusedPort()}`;
  const prefill = [{ url: dead, bootstrapPort: BOOTSTRAP_PORT }, { url: good.url, bootstrapPort: BOOTSTRAP_PORT + 1 }];
  const router = await startRouter({ port: 0, logLevel: 'silent', prefill, decode: [{ url: decode.url }] });
  return {
    router,
    dead,
    good,
    decode,
    async close() {
      await router.close();
      await Promise.all([good.close(), decode.close()]);
    },
  };
}

export async function post(url: string, body: string, signal?: AbortSignal): Promise<{ status: number; contentType: string; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}
