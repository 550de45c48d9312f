import type { KvEndpoint, PageRun, WriteResult } from '../../src/transfer/kv-transfer.js';
import type { FirstToken } from './protocol.js';
import type { RoomTimes } from '../transfer/room-notices.js';

/** What the prefill side of the scheduler needs from the transfer actor. */
export interface RoomWriter {
  /** Connects as `writer` (once per peer and writer; later calls reuse the connection) to a decode node's pool. */
  connect(peerId: string, endpoint: KvEndpoint, writer: string): Promise<void>;
  /** Resolves once the runs are in the peer's pool; the write counts towards `room`'s notice. */
  /**
   * `writer`: the token the room's pages were granted to. The write goes only through the link
   * made with it: after the decode node minted a new token (it declared this node lost), the old
   * rooms' pages may be reused there, so their writes fail instead of taking the new link.
   */
  write(peerId: string, writer: string, runs: readonly PageRun[], timeoutMs: number, room: string): Promise<WriteResult>;
  /**
   * After the room's last write: the writer sends decode the completion notice (kv_done with
   * `first`) as soon as every write of the room landed, or, with `first` null, forgets the room.
   * `times` are the room's first write and first token (wall-clock ms) for the notice's figures.
   * Resolves with whether the notice went out.
   */
  endRoom(room: string, peerId: string, first: FirstToken | null, times: RoomTimes, timeoutMs: number): Promise<boolean>;
  /** Closes and forgets the link to `peerId` (its writes in flight fail); the next connect makes a new one. */
  closePeer(peerId: string): Promise<void>;
}
