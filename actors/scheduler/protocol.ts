/**
 * Messages between the HTTP front end (main thread) and the scheduler actor (worker thread).
 * One discriminated union per direction; everything is structured-clone safe.
 */
import type { ShmRegionHandle } from '../../native/shm-region.js';
import type { ChatMessage } from '../../src/model/types.js';
import type { SamplingParams } from '../../src/sampling/params.js';
import type { KvEndpoint } from '../../src/transfer/kv-transfer.js';
import type { FinishMeta, TokenLogprob } from '../../src/generation/output.js';

export type PromptInput =
  | { kind: 'text'; text: string }
  | { kind: 'ids'; ids: number[] }
  | { kind: 'chat'; messages: ChatMessage[] };

export interface GenerateRequest {
  /** Request id, unique while in flight (logged on every line about the request). */
  rid: string;
  input: PromptInput;
  sampling: SamplingParams;
  returnLogprob: boolean;
  /** Input logprobs start at this prompt position (SGLang `logprob_start_len`); -1: no input logprobs. */
  logprobStartLen: number;
  /** Top-k alternatives per position in logprob output (0: none). */
  topLogprobsNum: number;
  /** Fill the token text of logprob tuples (SGLang `return_text_in_logprobs`; OpenAI routes need it). */
  returnTextInLogprobs: boolean;
  /** PD mode: the room the router minted and where the prefill node's bootstrap (control) socket is. */
  pd?: PdBootstrap;
}

export interface PdBootstrap {
  /** Decimal string: a 63-bit integer does not fit a JS number. */
  room: string;
  host: string;
  port: number;
}

/** The prefill peer a bootstrap names: its bootstrap socket's host:port (decode rooms and the control plane key peers by it). */
export function peerOf(b: PdBootstrap): string {
  return `${b.host}:${b.port}`;
}

/** The first token that prefill computed, carried to decode with the completion notice. */
export interface FirstToken {
  id: number;
  logprob?: TokenLogprob;
  topLogprobs?: TokenLogprob[] | null;
  /** Random draws prefill's sampler made, so decode continues the same seeded stream. */
  draws: number;
}

export interface SchedulerStats {
  running: number;
  waiting: number;
  totalPages: number;
  freePages: number;
  pageSize: number;
  maxTotalTokens: number;
  /** Requests whose pages are held (must be 0 when idle: no leaks). */
  pageTables: number;
  /** PD rooms open on this node (waiting on the peer, transferring or quarantined). */
  pdRooms: number;
}

export interface ModelInfo {
  modelPath: string;
  servedModelName: string;
  /** Token ids are below this (synthetic engine: the tokenizer's vocabulary, not the shape's). */
  vocabSize: number;
  contextLength: number;
  numLayers: number;
  hiddenSize: number;
  kvLayout: { numLayers: number; entriesPerToken: number; dtype: string; pageSize: number };
  eosTokenIds: number[];
  /** The engine's name (src/engine/engines.ts, or an embedder's). */
  engine: string;
  /** The engine's own settings as in effect (synthetic: modelShape and gpu; reference: kernel). */
  engineConfig: Readonly<Record<string, unknown>>;
  /** Digest of the weights and tokenizer; PD peers must match. */
  fingerprint: string;
  /** Decode nodes: where prefill nodes write this node's pool. */
  kvEndpoint: KvEndpoint | null;
}

/**
 * Retry-After of a capacity refusal: rooms turn over in well under a second at the bounds we keep,
 * and HTTP's header takes whole seconds. The router caps how long it honours it (pd-attempt.ts).
 */
export const RETRY_AFTER_SECS = 1;

/** Main thread -> scheduler. */
export type SchedulerInbound =
  | { type: 'generate'; req: GenerateRequest }
  | { type: 'abort'; rid: string; reason: string }
  | { type: 'stats'; seq: number }
  | { type: 'flush_cache'; seq: number }
  | { type: 'shutdown' }
  /** Prefill: the decode node's preallocated pages for a room, where to write them, and as which writer. */
  | { type: 'kv_target'; room: string; peerId: string; endpoint: KvEndpoint; pageIds: number[]; writer: string }
  /** Decode: prefill finished writing a room's KV; `first` is the first output token. */
  | { type: 'kv_arrived'; room: string; first: FirstToken }
  /**
   * Either side: the other side failed the room; `peerId` names the decode node on the prefill side.
   * `retryAfterSecs` (decode side): the prefill node gave the room up because it is full.
   */
  | { type: 'room_failed'; room: string; message: string; peerId?: string; retryAfterSecs?: number }
  /** Either side: every room shared with a peer that stopped answering fails. */
  | { type: 'peer_lost'; peerId: string; message: string };

/** Scheduler -> main thread. */
export type SchedulerOutbound =
  /**
   * Decode node whose backend placed the pool in shared memory (shm), before 'ready': the main
   * thread releases the region once the worker has exited, however it ends.
   */
  | { type: 'pool_placed'; region: ShmRegionHandle }
  | { type: 'ready'; model: ModelInfo }
  | { type: 'init_failed'; message: string }
  /** An uncaught exception after start-up: the worker serves nothing more and exits once its transfer actor closed. */
  | { type: 'crashed'; message: string }
  /** The request is invalid (400 to the client); nothing was allocated for it. */
  | { type: 'rejected'; rid: string; message: string }
  /** The node is full (rooms): 503 with Retry-After to the client; nothing was allocated for it. */
  | { type: 'busy'; rid: string; message: string; retryAfterSecs: number }
  | { type: 'accepted'; rid: string; promptTokens: number }
  /** New output tokens since the last event; `text` is the newly decoded text (may be '' while a UTF-8 sequence is incomplete). */
  | {
      type: 'tokens';
      rid: string;
      ids: number[];
      text: string;
      logprobs?: TokenLogprob[];
      topLogprobs?: (TokenLogprob[] | null)[];
      /** First event of a request with input logprobs: the prompt's (also repeated in FinishMeta). */
      inputTokenLogprobs?: TokenLogprob[];
      inputTopLogprobs?: (TokenLogprob[] | null)[];
    }
  | { type: 'finished'; rid: string; meta: FinishMeta }
  /**
   * Failed after acceptance (engine error, abort, pool can never fit it); `retryAfterSecs` with a
   * 503 when the node gave the request's room up for capacity (prefill-rooms.ts).
   */
  | { type: 'failed'; rid: string; message: string; status: number; retryAfterSecs?: number }
  | { type: 'stats'; seq: number; stats: SchedulerStats }
  | { type: 'flushed'; seq: number; ok: boolean }
  /** Decode: pages are reserved (and granted to `writer`) for a room; ask the prefill node to fill them. */
  | { type: 'kv_request'; room: string; rid: string; bootstrap: PdBootstrap; pageIds: number[]; writer: string }
  /**
   * Either side: tell the other side the room failed (peerId: prefill side; bootstrap: decode side).
   * `retryAfterSecs` (prefill side): the room was given up because this node is full.
   */
  | { type: 'room_failed_notice'; room: string; peerId?: string; bootstrap?: PdBootstrap; message: string; retryAfterSecs?: number }
  /** Decode, engines that can check KV (synthetic): a room's arrived KV was checked in `ms`; `ok` false failed it. */
  | { type: 'kv_verified'; room: string; bytes: number; ms: number; ok: boolean };

/**
 * Prefill: every page of the room is in the decode pool. Sent by the transfer actor the moment the
 * room's last write landed (actors/transfer/room-notices.ts), not by the scheduler.
 * `transferMs`: first write issued to last byte landed (overlaps compute); `writeMs`: time the
 * writes themselves took, summed (bandwidth = bytes / writeMs); `exposedMs`: first token to last
 * byte landed, the transfer time decode waits for.
 */
export interface KvDoneNotice {
  type: 'kv_done';
  room: string;
  peerId: string;
  first: FirstToken;
  bytes: number;
  runs: number;
  transferMs: number;
  writeMs: number;
  exposedMs: number;
}

/** Messages that the PD control plane (not the HTTP layer) handles, each way: the scheduler's, and the transfer actor's notices. */
export type PdOutbound = Extract<SchedulerOutbound, { type: 'kv_request' | 'room_failed_notice' | 'kv_verified' }> | KvDoneNotice;
export type PdInbound = Extract<SchedulerInbound, { type: 'kv_target' | 'kv_arrived' | 'room_failed' | 'peer_lost' }>;
