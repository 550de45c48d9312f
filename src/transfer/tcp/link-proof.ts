/**
 * Proofs that both ends of a tcp KV link hold the cluster secret (key = deriveKey(secret, 'tcp-kv')).
 *
 * Decisions:
 * - The receiver sends a fresh random challenge on accept; the sender's HELLO proves the key with an
 *   HMAC over that challenge and everything the HELLO asks for (page size, dial-back port, token,
 *   writer), so a HELLO cannot be replayed on another connection nor edited on the way.
 * - The receiver's WELCOME on the data connection proves the key over the same challenge, the
 *   sender's random token and the pool it announces: a stranger that connects to the sender's
 *   dial-back port (or replays an old WELCOME) cannot pass, so a prefill never sends KV to anyone
 *   but a receiver of its own cluster.
 * - Each proof names its role ('hello', 'welcome'), so one cannot stand in for the other; proofs are
 *   compared in constant time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}

export function helloProof(key: Buffer, challenge: Buffer, pageBytes: number, port: number, token: Buffer, writer: Buffer): Buffer {
  return createHmac('sha256', key).update('hello').update(challenge).update(u32(pageBytes)).update(u32(port)).update(token).update(writer).digest();
}

export function welcomeProof(key: Buffer, challenge: Buffer, pages: number, pageBytes: number, token: Buffer): Buffer {
  return createHmac('sha256', key).update('welcome').update(challenge).update(u32(pages)).update(u32(pageBytes)).update(token).digest();
}

export function proofMatches(got: Buffer, want: Buffer): boolean {
  return got.length === want.length && timingSafeEqual(got, want);
}
