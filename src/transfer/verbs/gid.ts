/**
 * GIDs: their text form, and which entry of a port's GID table a connection should use.
 *
 * Decisions:
 * - Text is the verbs tools' form (ibstatus, ibv_devinfo): eight groups of four hex digits.
 * - Preferred GID: a RoCE v2 GID over RoCE v1 (v2 is routable UDP/IP, and what current NICs and
 *   switches are configured for), and among those an IPv4-mapped one (::ffff:a.b.c.d: the address
 *   the host's network is set up with; a link-local fe80:: GID only reaches the same L2 segment),
 *   lowest index on a tie. On InfiniBand every GID is of type IB and none is IPv4-mapped, so the rule
 *   picks index 0, the port's default GID.
 */
import type { GidInfo, GidTypeName } from './port-info.js';

export function formatGid(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16).padStart(4, '0'));
  return groups.join(':');
}

/** a.b.c.d for an IPv4-mapped GID (::ffff:a.b.c.d), else null. */
export function ipv4OfGid(bytes: Uint8Array): string | null {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return null;
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return null;
  return bytes.subarray(12, 16).join('.');
}

const TYPE_RANK: Readonly<Record<GidTypeName, number>> = { 'RoCE v2': 2, 'RoCE v1': 1, IB: 0 };

function rank(g: GidInfo): number {
  return TYPE_RANK[g.type] * 2 + (g.ipv4 === null ? 0 : 1);
}

/** The GID a connection on this port should use (see the header), or null for an empty table. */
export function preferredGid(gids: readonly GidInfo[]): GidInfo | null {
  let best: GidInfo | null = null;
  for (const g of gids) if (best === null || rank(g) > rank(best) || (rank(g) === rank(best) && g.index < best.index)) best = g;
  return best;
}
