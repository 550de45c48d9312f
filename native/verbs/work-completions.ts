/**
 * Work completions as `ibv_poll_cq` leaves them in scratch memory, read into plain objects.
 *
 * Decisions:
 * - Only what the KV transfer acts on is read: which request (`wrId`), how it ended (`status`, with
 *   the C name from `completionStatusName` for messages), the operation, the byte count, the
 *   immediate data of a WRITE WITH IMM (big-endian on the wire, see work-requests.ts) and the QP.
 * - `vendorErr` is kept: for a failed completion it is the provider's own code, worth logging.
 * - `wrId` is read back as a JS number: requests are posted with safe-integer ids (work-requests.ts).
 */
import koffi from 'koffi';
import { nameOf, WC_FLAGS, WC_STATUS } from './constants.js';
import { IBV_WC, offsetOf } from './types.js';

export interface WorkCompletion {
  wrId: number;
  /** A WC_STATUS value; IBV_WC_SUCCESS (0) when the request completed. */
  status: number;
  /** A WC_OPCODE value (meaningful for successful completions only, as the man page says). */
  opcode: number;
  byteLen: number;
  /** The immediate data of a received WRITE WITH IMM; undefined otherwise. */
  imm: number | undefined;
  qpNum: number;
  vendorErr: number;
}

export const WC_BYTES = koffi.sizeof(IBV_WC);

/** Byte offsets of the `struct ibv_wc` members read here (a poller copies them without decoding). */
export const WC = {
  wrId: offsetOf(IBV_WC, 'wr_id'),
  status: offsetOf(IBV_WC, 'status'),
  opcode: offsetOf(IBV_WC, 'opcode'),
  vendorErr: offsetOf(IBV_WC, 'vendor_err'),
  byteLen: offsetOf(IBV_WC, 'byte_len'),
  immData: offsetOf(IBV_WC, 'imm_data'),
  qpNum: offsetOf(IBV_WC, 'qp_num'),
  wcFlags: offsetOf(IBV_WC, 'wc_flags'),
};

/** The `count` completions at the start of `view`. */
export function decodeCompletions(view: DataView, count: number): WorkCompletion[] {
  const out: WorkCompletion[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * WC_BYTES;
    const withImm = (view.getUint32(at + WC.wcFlags, true) & WC_FLAGS.IBV_WC_WITH_IMM) !== 0;
    out[i] = {
      wrId: view.getUint32(at + WC.wrId, true) + view.getUint32(at + WC.wrId + 4, true) * 2 ** 32,
      status: view.getInt32(at + WC.status, true),
      opcode: view.getInt32(at + WC.opcode, true),
      byteLen: view.getUint32(at + WC.byteLen, true),
      imm: withImm ? view.getUint32(at + WC.immData, false) : undefined,
      qpNum: view.getUint32(at + WC.qpNum, true),
      vendorErr: view.getUint32(at + WC.vendorErr, true),
    };
  }
  return out;
}

/** The C name of a completion status, e.g. IBV_WC_REM_ACCESS_ERR. */
export function completionStatusName(status: number): string {
  return nameOf(WC_STATUS, status);
}
