/**
 * The send buffer of a link's data socket, on the sender (where the KV bytes leave).
 *
 * Decisions:
 * - A fixed size (`--tcp-send-buffer`, default DEFAULT_SEND_BUFFER_BYTES) instead of the kernel's
 *   autotuning, which grows a loopback socket's buffer to net.ipv4.tcp_wmem's maximum (4 MiB): the
 *   bytes then sit in the socket long enough to leave the cache between the sender's copy in and
 *   the receiver's copy out, and both copies run at memory speed. Measured (pd-bench transfer --backend
 *   tcp, 1-64 MiB writes, 2-core EPYC VM, 2026-12-07): autotuned 3.1-4.5 GB/s; 256 KiB asked (512
 *   KiB granted) 4.4-6.9; 512 KiB (1 MiB) 5.3-6.5; 1 MiB (2 MiB) 3.3-4.3 again. The same cap through
 *   the sysctl lifted a plain Node socket too (5.0-6.3 -> 6.4-7.3 GB/s).
 * - Across hosts the buffer must hold a bandwidth-delay product: 512 KiB is 40 Gb/s at 100 us round
 *   trip. Links with more (long or fat paths) raise the flag, or pass 0 for autotuning.
 * - SO_SNDBUF through libc (native/libc.ts): Node offers no call for it on TCP sockets, and the fd
 *   is the handle's (`_handle.fd`, set on Unix). Best effort: where it cannot be set (another OS,
 *   no fd) the link works with the kernel's autotuning and the caller is told why.
 */
import type { Socket } from 'node:net';
import { setSendBuffer } from '../../../native/libc.js';

/** Asked for by default: Linux grants twice this (its bookkeeping), capped at net.core.wmem_max. */
export const DEFAULT_SEND_BUFFER_BYTES = 256 << 10;
/** The flag's ceiling (SO_SNDBUF takes an int). */
export const MAX_SEND_BUFFER_BYTES = 1 << 30;

/** What a socket's send buffer became: the granted size, or why it was left to the kernel. */
export type SendBuffer = { bytes: number } | { problem: string };

/** Asks for a send buffer of `bytes` on `socket` (0: leave it to the kernel's autotuning, null returned). */
export function sizeSendBuffer(socket: Socket, bytes: number): SendBuffer | null {
  if (bytes === 0) return null;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return { problem: 'the socket has no file descriptor here' };
  try {
    return { bytes: setSendBuffer(fd, bytes) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}
