/**
 * The transfer actor's protocol: the client (on the scheduler's thread) sends requests, one per
 * message; the worker answers each by `id` with exactly one reply, the replies of one turn of its
 * event loop together in one message (an array: src/util/actor/reply-batch.ts says why);
 * `ready` / `start_failed` answer the spawn itself, alone. Both directions use a MessageChannel port
 * handed over in the worker data.
 *
 * Decisions: a failed request is `failed` (or `write_failed` for writes, which the scheduler counts
 * per room), so the client maps both to a rejection; `REPLY_TO` names each request's success reply,
 * so the client's calls are typed end to end and checked at run time. Runs travel as plain arrays (structured clone), small next
 * to the pages they describe.
 */
import type { MessagePort } from 'node:worker_threads';
import type { LogLevel } from '../../src/log/logger.js';
import type { KvEndpoint, PageRun } from '../../src/transfer/kv-transfer.js';
import type { TransferConfig } from '../../src/transfer/transfer-backend.js';
import type { FirstToken } from '../scheduler/protocol.js';
import type { RoomTimes } from './room-notices.js';

/** How the pool reaches the worker: a SharedArrayBuffer is shared as is; an shm pool is mapped again by name. */
export type PoolSpec =
  | { kind: 'shared'; buffer: SharedArrayBuffer; pageBytes: number; numPages: number }
  | { kind: 'shm'; name: string; bytes: number; pageBytes: number; numPages: number };

export interface TransferWorkerData {
  /** Requests and replies travel here (not on parentPort): the client can read queued replies synchronously. */
  port: MessagePort;
  /** The backend and its settings (src/transfer/backends.ts makes the manager). */
  transfer: TransferConfig;
  pool: PoolSpec;
  logLevel: LogLevel;
  connectTimeoutMs: number;
  /** The cluster secret (loadClusterSecret): links prove it (tcp: deriveKey(secret, 'tcp-kv')). */
  clusterSecret: Uint8Array;
  /** Prefill: where rooms' completion notices go (the node's control plane; room-notices.ts). */
  notices?: MessagePort;
}

export type TransferRequest =
  | { type: 'listen'; id: number; host: string }
  /** `writer`: the token the decode node gave this node; a new token for the peer makes a new link. */
  | { type: 'connect'; id: number; peerId: string; endpoint: KvEndpoint; writer: string }
  /** `room`: the room the write belongs to (the receiver checks its grant; its notice waits for it). */
  | { type: 'write'; id: number; peerId: string; writer: string; runs: readonly PageRun[]; timeoutMs: number; room: string }
  /** The room's last write was issued: notify `peerId` once they all landed (`first` null: no notice, forget the room). */
  | { type: 'end_room'; id: number; room: string; peerId: string; first: FirstToken | null; times: RoomTimes }
  | { type: 'close_peer'; id: number; peerId: string }
  /** Decode: let `writer` write `room` into exactly `pageIds` (KvReceiver.grant). */
  | { type: 'grant'; id: number; room: string; writer: string; pageIds: readonly number[] }
  /** Decode: end the room's grant (KvReceiver.release). */
  | { type: 'release'; id: number; room: string; how: 'confirmed' | 'unconfirmed' }
  /** Decode: the writer is lost (KvReceiver.cutWriter). */
  | { type: 'cut_writer'; id: number; writer: string }
  | { type: 'shutdown'; id: number };

/** The worker's first message: it holds the pool and the backend, or it could not start. */
export type TransferStart = { type: 'ready' } | { type: 'start_failed'; message: string };

/** After the start message, every message from the worker is a batch of these. */
export type TransferReply =
  | { type: 'listening'; id: number; endpoint: KvEndpoint }
  | { type: 'connected'; id: number }
  | { type: 'written'; id: number; bytes: number; runs: number; ms: number }
  | { type: 'write_failed'; id: number; message: string }
  | { type: 'room_ended'; id: number; notified: boolean }
  | { type: 'peer_closed'; id: number }
  | { type: 'granted'; id: number }
  /** `done`: no byte of the room (of the writer) can land any more. */
  | { type: 'released'; id: number; done: boolean }
  | { type: 'writer_cut'; id: number; done: boolean }
  | { type: 'shut_down'; id: number }
  | { type: 'failed'; id: number; message: string };

/** The success reply of each request type. */
export const REPLY_TO = {
  listen: 'listening',
  connect: 'connected',
  write: 'written',
  end_room: 'room_ended',
  close_peer: 'peer_closed',
  grant: 'granted',
  release: 'released',
  cut_writer: 'writer_cut',
  shutdown: 'shut_down',
} as const satisfies Record<TransferRequest['type'], TransferReply['type']>;

export type ReplyTo = typeof REPLY_TO;
