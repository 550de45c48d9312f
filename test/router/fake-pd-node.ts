/**
 * Small HTTP servers that behave like PD nodes for the router tests: they record every request (its
 * exact body text, and whether its connection closed before it was answered) and answer like a
 * node's /generate does. A `RoomBoard` lets the fakes coordinate the way real nodes do through the
 * KV handshake: a decode fake answers a room only once a prefill fake has "sent its KV" for it, and a
 * failing prefill waits until the decode side has the room, so the tests need no sleeps.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  method: string;
  text: string;
  json: any;
  /** The bootstrap_room values exactly as written in the body text. */
  rooms: string[];
  /** Resolves when the connection closed before the fake finished its answer. */
  cutOff: Promise<void>;
  /** The answer body the fake wrote, exactly. */
  sent: string;
}

export type Behavior = (req: Received, res: http.ServerResponse) => void | Promise<void>;

export class RoomBoard {
  private readonly rooms = new Set<string>();
  private readonly waiters = new Map<string, (() => void)[]>();

  publish(rooms: readonly string[]): void {
    for (const room of rooms) {
      this.rooms.add(room);
      for (const wake of this.waiters.get(room) ?? []) wake();
      this.waiters.delete(room);
    }
  }

  async waitFor(rooms: readonly string[]): Promise<void> {
    await Promise.all(
      rooms.map((room) =>
        this.rooms.has(room) ? undefined : new Promise<void>((resolve) => this.waiters.set(room, [...(this.waiters.get(room) ?? []), resolve])),
      ),
    );
  }
}

export class FakeNode {
  readonly received: Received[] = [];
  private readonly arrivals: (() => void)[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(behavior: Behavior, port = 0): Promise<FakeNode> {
    let node!: FakeNode;
    const server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let cut!: () => void;
        const cutOff = new Promise<void>((resolve) => (cut = resolve));
        res.on('close', () => {
          if (!res.writableFinished) cut();
        });
        const received: Received = { path: req.url ?? '', method: req.method ?? '', text, json: text === '' ? undefined : JSON.parse(text), rooms: roomsIn(text), cutOff, sent: '' };
        node.received.push(received);
        for (const wake of node.arrivals.splice(0)) wake();
        void behavior(received, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    node = new FakeNode(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return node;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Generation requests only (not probes or info calls). */
  get generations(): Received[] {
    return this.received.filter((r) => r.method === 'POST' && r.path !== '/flush_cache');
  }

  /** Resolves once `count` generation requests have arrived. */
  async waitForGenerations(count: number): Promise<void> {
    while (this.generations.length < count) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (bound, then released): connections to it are refused. */
export async function refusedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function roomsIn(text: string): string[] {
  const m = /"bootstrap_room":(\[[\d,]*\]|\d+)/.exec(text);
  if (m === null) return [];
  return m[1].replace(/[[\]]/g, '').split(',').filter((r) => r !== '');
}

// ---- Answers like a node's /generate ----

export const PREFILL_INPUT_LOGPROBS = [
  [-1.5, 11, null],
  [-0.25, 12, null],
];
export const PREFILL_INPUT_TOP = [null, [[-0.25, 12, null]]];

function output(req: Received, role: 'prefill' | 'decode', index?: number): Record<string, unknown> {
  const meta: Record<string, unknown> = { id: `${role}-rid`, finish_reason: { type: 'length', length: 2 }, prompt_tokens: 2, completion_tokens: role === 'decode' ? 2 : 1, cached_tokens: 0, e2e_latency: 0.01 };
  if (req.json?.return_logprob) {
    meta.input_token_logprobs = role === 'prefill' ? PREFILL_INPUT_LOGPROBS : [];
    meta.output_token_logprobs = [[-0.5, 7, null]];
    if (req.json.top_logprobs_num > 0) meta.input_top_logprobs = role === 'prefill' ? PREFILL_INPUT_TOP : [];
  }
  const out: Record<string, unknown> = { text: role === 'decode' ? ' decoded text' : ' p', output_ids: role === 'decode' ? [7, 8] : [7], meta_info: meta };
  if (index !== undefined) out.index = index;
  return out;
}

function answer(req: Received, res: http.ServerResponse, role: 'prefill' | 'decode'): void {
  const write = res.write.bind(res);
  res.write = ((chunk: string) => {
    req.sent += chunk;
    return write(chunk);
  }) as typeof res.write;
  // Lists of rooms come with batches only.
  const batch = /"bootstrap_room":\[/.test(req.text);
  const count = req.rooms.length;
  if (req.json?.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    for (let i = 0; i < count; i++) {
      const chunk = output(req, role, batch ? i : undefined);
      if (role === 'decode') {
        // Two chunks per prompt, the way a node streams: the first one carries meta_info too.
        res.write(`data: ${JSON.stringify({ ...chunk, text: ' decoded', finish_reason: null })}\n\n`);
      }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    res.end();
    return;
  }
  const body = batch ? Array.from({ length: count }, (_, i) => output(req, role, i)) : output(req, role);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.write(JSON.stringify(body));
  res.end();
}

/**
 * A prefill node that works: the KV "arrives" at decode (board), then it answers. With `decodeAsked`,
 * it first waits (until its connection closes) for a decode node to have asked for the room, as a
 * real prefill waits for the decode node's page list.
 */
export function goodPrefill(kv: RoomBoard, decodeAsked?: RoomBoard): Behavior {
  return async (req, res) => {
    if (infoAnswer(req, res, 'prefill')) return;
    if (decodeAsked !== undefined) await Promise.race([decodeAsked.waitFor(req.rooms), req.cutOff]);
    if (res.destroyed) return;
    kv.publish(req.rooms);
    answer(req, res, 'prefill');
  };
}

/** A decode node that works: it answers once the prefill side delivered the room's KV. */
export function goodDecode(kv: RoomBoard, arrived?: RoomBoard): Behavior {
  return async (req, res) => {
    if (infoAnswer(req, res, 'decode')) return;
    arrived?.publish(req.rooms);
    await Promise.race([kv.waitFor(req.rooms), req.cutOff]);
    if (!res.destroyed) answer(req, res, 'decode');
  };
}

/** Answers `status` with the node's error shape, after `before` (if given) resolves. */
export function failing(status: number, before?: (req: Received) => Promise<void>): Behavior {
  return async (req, res) => {
    if (infoAnswer(req, res, 'prefill')) return;
    await before?.(req);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `fake failure ${status}`, type: 'server_error', param: null, code: null } }));
  };
}

/** A full node: 503 with `Retry-After: 1` for the first `times` generations, then `then`. */
export function fullThen(times: number, then: Behavior): Behavior {
  let refused = 0;
  return (req, res) => {
    if (infoAnswer(req, res, 'decode') || refused >= times) return then(req, res);
    refused++;
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: { message: 'fake node is full; retry', type: 'service_unavailable', param: null, code: null } }));
  };
}

/** Streams one chunk, then breaks the connection (`cut`) or holds it open. */
export function streamThen(end: 'cut' | 'hold'): Behavior {
  return (req, res) => {
    if (infoAnswer(req, res, 'decode')) return;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    res.write(`data: ${JSON.stringify({ text: ' first', meta_info: { id: 'decode-rid', finish_reason: null } })}\n\n`, () => {
      if (end === 'cut') res.socket?.destroy();
    });
  };
}

/** Accepts the request and never answers (until the connection closes). */
export const hanging: Behavior = (req, res) => {
  infoAnswer(req, res, 'decode');
};

/** GET /health, /get_server_info, /get_model_info, /v1/models and POST /flush_cache, as a node answers them. */
function infoAnswer(req: Received, res: http.ServerResponse, role: string): boolean {
  const json = (body: unknown): true => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
    return true;
  };
  switch (req.path) {
    case '/health':
      res.writeHead(200).end();
      return true;
    case '/get_server_info':
      return json({ role, served_model_name: 'fake-model' });
    case '/get_model_info':
      return json({ model_path: '/models/fake', served_model_name: 'fake-model', is_generation: true });
    case '/v1/models':
      return json({ object: 'list', data: [{ id: 'fake-model', object: 'model', owned_by: 'pd-node' }] });
    case '/flush_cache':
      return json({ success: true, message: 'Cache flushed.' });
    default:
      if (req.method === 'POST') return false;
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `no route for GET ${req.path}` } }));
      return true;
  }
}
