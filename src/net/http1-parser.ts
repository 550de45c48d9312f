/**
 * Strict HTTP/1.1 message parsers: responses for the router's upstream client (http1-pool.ts) and
 * requests for its server side (http1-front.ts). One core reads heads and bodies for both; each side
 * only reads its start line and decides the body's framing. A parser is fed the bytes of one
 * connection as they arrive and parses exactly one message. Decisions:
 * - Strict, because a peer that sends malformed bytes must cost that one message, never a misread:
 *   a start line of the wrong shape, a header line that is not `token: value` (no obs-fold, no
 *   control characters), a head over its bound, both Transfer-Encoding and Content-Length, a
 *   Transfer-Encoding other than `chunked`, Content-Length values that are not digits or disagree,
 *   a bad chunk-size line, a chunk not followed by CRLF, and a bare LF where CRLF belongs are all an
 *   `Http1ProtocolError`. Its `status` is what a server answers for it (400, or 413, 417, 431, 501).
 * - Response framing as RFC 9112 section 6.3: 1xx/204/304 have no body; chunked; Content-Length;
 *   else the body runs until the peer closes (the connection is then not reusable). 1xx interim
 *   responses are skipped.
 * - Request framing: chunked, Content-Length, else no body (a request is never close-delimited).
 *   Bodies are bounded (`maxBodyBytes`): a Content-Length above it is refused as soon as the head is
 *   read (413 before any body byte), a chunked body as soon as its sizes pass it. HTTP/1.1 requests
 *   need a Host header (RFC 9112 3.2, as Node's server requires); `Expect` may only be 100-continue.
 * - `feed` returns where the message ended in the chunk (or -1): the bytes after it are not this
 *   message's, and the caller decides what they mean (a fault upstream; the next pipelined request
 *   on the server side).
 * - Body bytes are handed on as slices of the received chunks (no copy); only chunk-size lines and a
 *   head split across reads are copied.
 */
import { payloadTooLarge } from './payload-limit.js';

/** Longest head (start line and headers) accepted by default: Node's own limit (16 KiB). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Longest chunk-size or trailer line: a size is at most 16 hex digits; extensions are not ours to carry. */
const MAX_LINE_BYTES = 4 * 1024;
/** Largest Content-Length or chunk size accepted: stays an exact JS integer. */
const MAX_BODY_NUMBER = Number.MAX_SAFE_INTEGER;

export class Http1ProtocolError extends Error {
  constructor(
    message: string,
    /** The status a server answers this fault with. */
    readonly status = 400,
  ) {
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

export interface RequestHead {
  method: string;
  /** The request target as sent, e.g. /generate?x=1. */
  target: string;
  /** The target up to its query. */
  path: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The client allows another request on this connection after this one's response. */
  keepAlive: boolean;
  /** The client waits for `100 Continue` before sending its body. */
  expectContinue: boolean;
  /** Whether a body follows the head. */
  hasBody: boolean;
}

export interface RequestSink {
  onHead(head: RequestHead): void;
  onData(chunk: Buffer): void;
}

type State = 'head' | 'length' | 'size' | 'chunk' | 'chunk-cr' | 'chunk-lf' | 'trailers' | 'close' | 'done';
type Framing = 'none' | 'length' | 'chunked' | 'close';

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) HTTP\/1\.([01])$/;
/** RFC 9110 tchar: the characters of a header name. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_CHARS[c.charCodeAt(0)] = 1;
const TAB = 9;
const SPACE = 32;
const DEL = 0x7f;
/** A Content-Length value: 16 digits at most, so it stays an exact JS integer below. */
const DIGITS = /^\d{1,16}$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,13})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const CR = 13;
const LF = 10;

/** The head and body machinery both sides share; a side reads its start line and picks the framing. */
abstract class Http1MessageParser {
  private state: State = 'head';
  /** A head split across reads, kept until it is whole. */
  private partialHead: Buffer | null = null;
  /** A chunk-size or trailer line split across reads. */
  private line = '';
  /** Body bytes still expected (Content-Length, or the current chunk). */
  private remaining = 0;
  /** Chunked body bytes announced so far, against `maxBodyBytes`. */
  private chunkedBytes = 0;

  constructor(
    /** Where body bytes go. */
    private readonly bodySink: { onData(chunk: Buffer): void },
    private readonly maxHeadBytes: number,
    /** Bound on a body's bytes (requests); MAX_BODY_NUMBER for none. */
    private readonly maxBodyBytes: number,
    /** What raises the bound, named in its 413 message; null: nothing named. */
    private readonly maxBodyBytesSetBy: string | null,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** Whether the message started (a byte of its head, or of an interim head, arrived). */
  get started(): boolean {
    return this.state !== 'head' || this.partialHead !== null;
  }

  /** Whether the head has been read (the body, if any, is being read). */
  get inBody(): boolean {
    return this.state !== 'head';
  }

  /** Parses `chunk`; returns the offset just past the message's end in it, or -1 if it has not ended. */
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
          this.onBody(pos === 0 ? chunk : chunk.subarray(pos));
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

  /** The peer closed the connection: true when that ends the message (a body framed by close). */
  eof(): boolean {
    if (this.state === 'close') this.state = 'done';
    return this.state === 'done';
  }

  /** Reads the side's start line and headers; returns the framing, or null for an interim head (another head follows). */
  protected abstract head(startLine: string, headers: Record<string, string>): Framing | null;

  private onBody(chunk: Buffer): void {
    this.bodySink.onData(chunk);
  }

  /**
   * The framing the headers give a message that may have a body: chunked, Content-Length (`none`
   * when 0 and `zeroIsNone`), or `absent` when neither is there (each side decides what that means).
   * `teStatus`: what a server answers for a Transfer-Encoding it cannot read.
   */
  protected bodyFraming(headers: Record<string, string>, teStatus: number, zeroIsNone: boolean): Framing | 'absent' {
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (te !== undefined) {
      if (cl !== undefined) throw new Http1ProtocolError('both Transfer-Encoding and Content-Length');
      if (te.toLowerCase() !== 'chunked') throw new Http1ProtocolError(`unsupported Transfer-Encoding "${te}"`, teStatus);
      return 'chunked';
    }
    if (cl === undefined) return 'absent';
    return this.contentLength(cl) === 0 && zeroIsNone ? 'none' : 'length';
  }

  /** The body's length from Content-Length, checked. */
  private contentLength(cl: string): number {
    // One plain value is what every peer sends; a list of equal values is allowed (RFC 9110 8.6).
    let text = cl;
    if (!DIGITS.test(cl)) {
      const values = cl.split(',').map((v) => v.trim());
      if (!values.every((v) => DIGITS.test(v) && v === values[0])) throw new Http1ProtocolError(`bad Content-Length "${cl}"`);
      text = values[0];
    }
    const length = Number(text);
    if (length > MAX_BODY_NUMBER) throw new Http1ProtocolError(`Content-Length ${cl} too large`);
    if (length > this.maxBodyBytes) throw new Http1ProtocolError(payloadTooLarge(this.maxBodyBytes, this.maxBodyBytesSetBy), 413);
    this.remaining = length;
    return length;
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
      if (buf.length - from > this.maxHeadBytes) throw this.headTooLong();
      this.partialHead = Buffer.from(buf.subarray(from));
      return chunk.length;
    }
    if (end - from > this.maxHeadBytes) throw this.headTooLong();
    const consumedOfChunk = this.partialHead === null ? end + 4 : end + 4 - this.partialHead.length + pos;
    this.partialHead = null;
    const text = buf.toString('latin1', from, end);
    const startEnd = text.indexOf('\r\n');
    const headers: Record<string, string> = {};
    if (startEnd !== -1) readHeaderLines(text, startEnd + 2, headers);
    switch (this.head(startEnd === -1 ? text : text.slice(0, startEnd), headers)) {
      case null:
        break; // interim: parse the next head
      case 'none':
        this.state = 'done';
        break;
      case 'length':
        this.state = this.remaining === 0 ? 'done' : 'length';
        break;
      case 'chunked':
        this.state = 'size';
        break;
      case 'close':
        this.state = 'close';
        break;
    }
    return consumedOfChunk;
  }

  private headTooLong(): Http1ProtocolError {
    return new Http1ProtocolError(`head longer than ${this.maxHeadBytes} bytes`, 431);
  }

  /** Hands on up to `remaining` body bytes from `pos`; the state becomes `next` once they are all in. */
  private readBody(chunk: Buffer, pos: number, next: State): number {
    const n = Math.min(this.remaining, chunk.length - pos);
    this.onBody(chunk.subarray(pos, pos + n));
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
      this.chunkedBytes += this.remaining;
      if (this.chunkedBytes > this.maxBodyBytes) throw new Http1ProtocolError(payloadTooLarge(this.maxBodyBytes, this.maxBodyBytesSetBy), 413);
      this.state = this.remaining === 0 ? 'trailers' : 'chunk';
    } else if (text === '') {
      this.state = 'done';
    } else if (headerLine(text, 0, text.length, null) === -1) {
      throw new Http1ProtocolError(`bad trailer line ${JSON.stringify(text.slice(0, 80))}`);
    }
    return lf + 1;
  }
}

export class Http1ResponseParser extends Http1MessageParser {
  private keepAlive = false;

  constructor(private readonly sink: ResponseSink) {
    super(sink, MAX_HEAD_BYTES, MAX_BODY_NUMBER, null);
  }

  /** Whether the connection may carry another request after this (complete) response. */
  get reusable(): boolean {
    return this.done && this.keepAlive;
  }

  protected head(startLine: string, headers: Record<string, string>): Framing | null {
    const status = STATUS_LINE.exec(startLine);
    if (status === null) throw new Http1ProtocolError(`bad status line ${JSON.stringify(startLine.slice(0, 80))}`);
    const code = Number(status[2]);
    // An interim answer (100 Continue, 103 Early Hints): the final one follows. 101 switches protocols, which was never asked for.
    if (code === 101) throw new Http1ProtocolError('101 Switching Protocols without an upgrade request');
    if (code < 200) return null;
    this.keepAlive = keepAliveOf(status[1] === '1', headers);
    this.sink.onHead({ status: code, headers, keepAlive: this.keepAlive });
    if (code === 204 || code === 304) return 'none';
    const framing = this.bodyFraming(headers, 400, false);
    if (framing !== 'absent') return framing;
    this.keepAlive = false;
    return 'close';
  }
}

export class Http1RequestParser extends Http1MessageParser {
  constructor(
    private readonly sink: RequestSink,
    maxHeadBytes: number,
    maxBodyBytes: number,
    /** What raises `maxBodyBytes` (e.g. a CLI flag), named in the 413 message; null: nothing named. */
    maxBodyBytesSetBy: string | null = null,
  ) {
    super(sink, maxHeadBytes, maxBodyBytes, maxBodyBytesSetBy);
  }

  protected head(startLine: string, headers: Record<string, string>): Framing {
    const m = REQUEST_LINE.exec(startLine);
    if (m === null) throw new Http1ProtocolError(`bad request line ${JSON.stringify(startLine.slice(0, 80))}`);
    const [, method, target, minorText] = m;
    const minor = minorText === '1' ? 1 : 0;
    if (minor === 1 && headers.host === undefined) throw new Http1ProtocolError('HTTP/1.1 request without a Host header');
    const expect = headers.expect;
    if (expect !== undefined && expect.toLowerCase() !== '100-continue') throw new Http1ProtocolError(`unsupported Expect "${expect}"`, 417);
    const given = this.bodyFraming(headers, 501, true);
    // A request without either header has no body (it is never close-delimited).
    const framing: Framing = given === 'absent' ? 'none' : given;
    const keepAlive = keepAliveOf(minor === 1, headers);
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    this.sink.onHead({ method, target, path, minor, headers, keepAlive, expectContinue: expect !== undefined, hasBody: framing !== 'none' });
    return framing;
  }
}

/**
 * The header lines of `text` from `pos` to its end (lines separated by CRLF) into `headers`: names
 * lower-cased, repeated headers joined with ", ". A line that is not `token: value` throws.
 * Character loops rather than a regular expression per line: three heads per routed request made
 * the regular expression one of the router's largest costs (bench/README.md, pd-bench router).
 */
function readHeaderLines(text: string, pos: number, headers: Record<string, string>): void {
  while (pos <= text.length) {
    let eol = text.indexOf('\r\n', pos);
    if (eol === -1) eol = text.length;
    if (headerLine(text, pos, eol, headers) === -1) throw new Http1ProtocolError(`bad header line ${JSON.stringify(text.slice(pos, Math.min(eol, pos + 80)))}`);
    pos = eol + 2;
  }
}

/**
 * Checks the header line text[start, end) (`token ":" OWS value OWS`, the value without control
 * characters but tab) and, given `headers`, adds it there; -1 when it is not such a line.
 */
function headerLine(text: string, start: number, end: number, headers: Record<string, string> | null): number {
  let i = start;
  let upper = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN_CHARS[c] === 0) break;
    if (c >= 65 && c <= 90) upper = true;
  }
  if (i === start || i === end || text.charCodeAt(i) !== 58 /* : */) return -1;
  const nameEnd = i;
  i++;
  while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
  const valueStart = i;
  let valueEnd = i;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c < SPACE && c !== TAB) || c === DEL) return -1;
    if (c !== SPACE && c !== TAB) valueEnd = i + 1;
  }
  if (headers === null) return 0;
  const name = knownName(text, start, nameEnd) ?? (upper ? text.slice(start, nameEnd).toLowerCase() : text.slice(start, nameEnd));
  const value = text.slice(valueStart, valueEnd);
  const prior = headers[name];
  headers[name] = prior === undefined ? value : `${prior}, ${value}`;
  return 0;
}

/**
 * Names every head of a routed request carries (the client's, both nodes' answers), as the string
 * literals they are: a name sliced from the head is a fresh string that V8 looks up in its string
 * table at each `headers[name]` load and store (3-4 % of the router's CPU, bench/README.md), a
 * literal is already there. By length, so a name is compared with at most three.
 */
const KNOWN_NAMES: readonly (readonly string[])[] = (() => {
  const byLength: string[][] = [];
  for (const name of ['host', 'date', 'accept', 'expect', 'connection', 'keep-alive', 'user-agent', 'content-type', 'retry-after', 'authorization', 'content-length', 'transfer-encoding']) (byLength[name.length] ??= []).push(name);
  return byLength;
})();

/** The literal of a known header name text[start, end) (any case; already checked as a token), else null. */
function knownName(text: string, start: number, end: number): string | null {
  const names = KNOWN_NAMES[end - start];
  if (names === undefined) return null;
  for (const name of names) {
    let i = 0;
    // Token characters: `| 0x20` lower-cases a letter and leaves '-' as it is.
    while (i < name.length && (text.charCodeAt(start + i) | 0x20) === name.charCodeAt(i)) i++;
    if (i === name.length) return name;
  }
  return null;
}

/** Whether the peer allows another message on the connection: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with `keep-alive`. */
function keepAliveOf(http11: boolean, headers: Record<string, string>): boolean {
  const connection = headers.connection?.toLowerCase();
  return http11 ? !(connection?.includes('close') ?? false) : (connection?.includes('keep-alive') ?? false);
}
