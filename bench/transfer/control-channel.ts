/**
 * JSON lines over TCP for the control protocol (protocol.ts): the sender's client makes one call at a
 * time (each bounded by a timeout) and checks the reply's type; the receiver's side reads requests
 * and writes replies. A failed request comes back as an `error` reply and rejects the call.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { withTimeout } from '../../src/util/timeout.js';
import { REPLY_TO, type ControlReply, type ControlRequest, type ReplyOf } from './protocol.js';

export class ControlClient {
  private readonly lines: AsyncIterator<string>;

  private constructor(private readonly socket: Socket, private readonly where: string) {
    this.lines = createInterface({ input: socket })[Symbol.asyncIterator]();
    socket.on('error', () => {});
  }

  static async connect(host: string, port: number, timeoutMs: number): Promise<ControlClient> {
    const socket = connect({ host, port, noDelay: true });
    await withTimeout(once(socket, 'connect'), timeoutMs, `connecting to the receiver's control port ${host}:${port}`);
    return new ControlClient(socket, `${host}:${port}`);
  }

  async call<K extends ControlRequest['type']>(req: Extract<ControlRequest, { type: K }>, timeoutMs: number): Promise<ReplyOf<K>> {
    this.socket.write(`${JSON.stringify(req)}\n`);
    const next = await withTimeout(this.lines.next(), timeoutMs, `receiver ${req.type}`);
    if (next.done) throw new Error(`the receiver at ${this.where} closed the control connection during ${req.type}`);
    const reply = JSON.parse(next.value as string) as ControlReply;
    if (reply.type === 'error') throw new Error(`receiver ${req.type}: ${reply.message}`);
    if (!(REPLY_TO[req.type] as readonly string[]).includes(reply.type)) throw new Error(`receiver answered ${req.type} with ${reply.type}`);
    return reply as ReplyOf<K>;
  }

  /** The address this side reaches the receiver from (where the receiver can dial it back). */
  get localHost(): string {
    return this.socket.localAddress!;
  }

  close(): void {
    this.socket.end();
  }
}

/** Serves one control connection: requests in order, one reply each (a thrown error becomes an `error` reply). */
export async function serveControl(socket: Socket, handle: (req: ControlRequest) => Promise<ControlReply>): Promise<void> {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  for await (const line of createInterface({ input: socket })) {
    let reply: ControlReply;
    try {
      reply = await handle(JSON.parse(line) as ControlRequest);
    } catch (err) {
      reply = { type: 'error', message: (err as Error).message };
    }
    socket.write(`${JSON.stringify(reply)}\n`);
  }
}
