/**
 * A strict HTTP/1.1 response parser for the router's upstream client (http1-pool.ts). It is fed the
 * bytes of one connection as they arrive and parses exactly one response (1xx interim responses
 * skipped). Decisions:
 * - Strict, because a node that answers malformed must cost that one request, never a misread
 *   answer: a status line other than `HTTP/1.x NNN`, a header line that is not `token: value` (no
 *   obs-fold, no control characters), a head over MAX_HEAD_BYTES, both Transfer-Encoding and
 *   Content-Length, a Transfer-Encoding other than `chunked`, Content-Length values that are not
 *   digits or disagree, a bad chunk-size line, a chunk not followed by CRLF, and a bare LF where CRLF
 *   belongs are all a `Http1ProtocolError`.
 * - Framing as RFC 9112 section 6.3: 1xx/204/304 have no body; chunked; Content-Length; else the body
 *   runs until the peer closes (the connection is then not reusable).
 * - `feed` returns where the response ended in the chunk (or -1): the bytes after it are not this
 *   response's, and the caller decides what they mean (for one request in flight: a fault).
 * - Body bytes are handed on as slices of the received chunks (no copy); only chunk-size lines and a
 *   head split across reads are copied.
 */

/** Longest response head (status line and headers) accepted: Node's own default limit (16 KiB). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Longest chunk-size or trailer line: a size is at most 16 hex digits; extensions are not ours to carry. */
const MAX_LINE_BYTES = 4 * 1024;
/** Largest Content-Length or chunk size accepted: stays an exact JS integer. */
const MAX_BODY_NUMBER = Number.MAX_SAFE_INTEGER;

export class Http1ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Http1ProtocolError';
  }
}

export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The server allows another request on this connection after this response. */
  keepAlive: boolean;
}

export interface ResponseSink {
  onHead(head: ResponseHead): void;
  onData(chunk: Buffer): void;
}

type State = 'head' | 'length' | 'size' | 'chunk' | 'chunk-cr' | 'chunk-lf' | 'trailers' | 'close' | 'done';

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const CR = 13;
const LF = 10;

export class Http1ResponseParser {
  private state: State = 'head';
  /** A head split across reads, kept until it is whole. */
  private partialHead: Buffer | null = null;
  /** A chunk-size or trailer line split across reads. */
  private line = '';
  /** Body bytes still expected (Content-Length, or the current chunk). */
  private remaining = 0;
  private keepAlive = false;

  constructor(private readonly sink: ResponseSink) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** Whether the response started (a byte of a final or interim head arrived). */
  get started(): boolean {
    return this.state !== 'head' || this.partialHead !== null;
  }

  /** Parses `chunk`; returns the offset just past the response's end in it, or -1 if it has not ended. */
  feed(chunk: Buffer): number {
    let pos = 0;
    for (;;) {
      if (this.state === 'done') return pos;
      if (pos >= chunk.length) return -1;
      switch (this.state) {
        case 'head':
          pos = this.readHead(chunk, pos);
          break;
        case 'length':
          pos = this.readBody(chunk, pos, 'done');
          break;
        case 'close':
          this.sink.onData(pos === 0 ? chunk : chunk.subarray(pos));
          return -1;
        case 'size':
        case 'trailers':
          pos = this.readLine(chunk, pos);
          break;
        case 'chunk':
          pos = this.readBody(chunk, pos, 'chunk-cr');
          break;
        case 'chunk-cr':
          if (chunk[pos++] !== CR) throw new Http1ProtocolError('chunk data not followed by CRLF');
          this.state = 'chunk-lf';
          break;
        case 'chunk-lf':
          if (chunk[pos++] !== LF) throw new Http1ProtocolError('chunk data not followed by CRLF');
          this.state = 'size';
          break;
      }
    }
  }

  /** The peer closed the connection: true when that ends the response (a body framed by close). */
  eof(): boolean {
    if (this.state === 'close') this.state = 'done';
    return this.state === 'done';
  }

  /** Whether the connection may carry another request after this (complete) response. */
  get reusable(): boolean {
    return this.state === 'done' && this.keepAlive;
  }

  private readHead(chunk: Buffer, pos: number): number {
    let buf = chunk;
    let from = pos;
    if (this.partialHead !== null) {
      buf = Buffer.concat([this.partialHead, chunk.subarray(pos)]);
      from = 0;
    }
    // Search from just before the new bytes: the end marker may straddle the two reads.
    const end = buf.indexOf(HEAD_END, this.partialHead === null ? from : Math.max(0, this.partialHead.length - 3));
    if (end === -1) {
      if (buf.length - from > MAX_HEAD_BYTES) throw new Http1ProtocolError(`response head longer than ${MAX_HEAD_BYTES} bytes`);
      this.partialHead = Buffer.from(buf.subarray(from));
      return chunk.length;
    }
    if (end - from > MAX_HEAD_BYTES) throw new Http1ProtocolError(`response head longer than ${MAX_HEAD_BYTES} bytes`);
    const consumedOfChunk = this.partialHead === null ? end + 4 : end + 4 - this.partialHead.length + pos;
    this.partialHead = null;
    this.startBody(this.parseHead(buf.toString('latin1', from, end)));
    return consumedOfChunk;
  }

  private parseHead(text: string): ResponseHead | null {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]);
    if (status === null) throw new Http1ProtocolError(`bad status line ${JSON.stringify(lines[0].slice(0, 80))}`);
    const code = Number(status[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const m = HEADER_LINE.exec(lines[i]);
      if (m === null) throw new Http1ProtocolError(`bad header line ${JSON.stringify(lines[i].slice(0, 80))}`);
      const name = m[1].toLowerCase();
      const prior = headers[name];
      headers[name] = prior === undefined ? m[2] : `${prior}, ${m[2]}`;
    }
    // An interim answer (100 Continue, 103 Early Hints): the final one follows. 101 switches protocols, which was never asked for.
    if (code === 101) throw new Http1ProtocolError('101 Switching Protocols without an upgrade request');
    if (code < 200) return null;
    const connection = headers.connection?.toLowerCase();
    this.keepAlive = status[1] === '1' ? !(connection?.includes('close') ?? false) : (connection?.includes('keep-alive') ?? false);
    return { status: code, headers, keepAlive: this.keepAlive };
  }

  private startBody(head: ResponseHead | null): void {
    if (head === null) return; // interim: parse the next head
    this.sink.onHead(head);
    const te = head.headers['transfer-encoding'];
    const cl = head.headers['content-length'];
    if (head.status === 204 || head.status === 304) {
      this.state = 'done';
    } else if (te !== undefined) {
      if (cl !== undefined) throw new Http1ProtocolError('both Transfer-Encoding and Content-Length');
      if (te.toLowerCase() !== 'chunked') throw new Http1ProtocolError(`unsupported Transfer-Encoding "${te}"`);
      this.state = 'size';
    } else if (cl !== undefined) {
      const values = cl.split(',').map((v) => v.trim());
      if (!values.every((v) => /^\d{1,16}$/.test(v) && v === values[0])) throw new Http1ProtocolError(`bad Content-Length "${cl}"`);
      this.remaining = Number(values[0]);
      if (this.remaining > MAX_BODY_NUMBER) throw new Http1ProtocolError(`Content-Length ${cl} too large`);
      this.state = this.remaining === 0 ? 'done' : 'length';
    } else {
      this.keepAlive = false;
      this.state = 'close';
    }
  }

  /** Hands on up to `remaining` body bytes from `pos`; the state becomes `next` once they are all in. */
  private readBody(chunk: Buffer, pos: number, next: State): number {
    const n = Math.min(this.remaining, chunk.length - pos);
    this.sink.onData(chunk.subarray(pos, pos + n));
    this.remaining -= n;
    if (this.remaining === 0) this.state = next;
    return pos + n;
  }

  /** A chunk-size or trailer line, CRLF-terminated; may span reads. */
  private readLine(chunk: Buffer, pos: number): number {
    const lf = chunk.indexOf(LF, pos);
    const end = lf === -1 ? chunk.length : lf;
    this.line += chunk.toString('latin1', pos, end);
    if (this.line.length > MAX_LINE_BYTES) throw new Http1ProtocolError(`chunk-size or trailer line longer than ${MAX_LINE_BYTES} bytes`);
    if (lf === -1) return chunk.length;
    const line = this.line;
    this.line = '';
    if (!line.endsWith('\r')) throw new Http1ProtocolError('bare LF in chunked framing');
    const text = line.slice(0, -1);
    if (this.state === 'size') {
      const m = CHUNK_SIZE.exec(text);
      if (m === null) throw new Http1ProtocolError(`bad chunk size line ${JSON.stringify(text.slice(0, 80))}`);
      this.remaining = parseInt(m[1], 16);
      this.state = this.remaining === 0 ? 'trailers' : 'chunk';
    } else if (text === '') {
      this.state = 'done';
    } else if (!HEADER_LINE.test(text)) {
      throw new Http1ProtocolError(`bad trailer line ${JSON.stringify(text.slice(0, 80))}`);
    }
    return lf + 1;
  }
}
