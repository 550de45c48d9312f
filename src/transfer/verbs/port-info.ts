/**
 * What discovery reports about one RDMA port: plain data (recordable as JSON), so device selection is
 * a pure function that tests run on recorded port tables.
 */
import type { LinkRate } from './link-rate.js';

export type PortStateName = 'NOP' | 'DOWN' | 'INIT' | 'ARMED' | 'ACTIVE' | 'ACTIVE_DEFER';
export type LinkLayerName = 'InfiniBand' | 'Ethernet' | 'unspecified';
export type GidTypeName = 'IB' | 'RoCE v1' | 'RoCE v2';

export interface GidInfo {
  index: number;
  /** Eight groups of four hex digits, as the verbs tools print GIDs. */
  gid: string;
  type: GidTypeName;
  /** The IPv4 address of an IPv4-mapped GID (::ffff:a.b.c.d), else null. */
  ipv4: string | null;
}

export interface PortInfo {
  device: string;
  /** Port number, from 1. */
  port: number;
  state: PortStateName;
  /** The raw `active_speed` / `active_width` codes, and the rate they decode to (null: unknown code). */
  activeSpeed: number;
  activeWidth: number;
  rate: LinkRate | null;
  linkLayer: LinkLayerName;
  lid: number;
  /** Active MTU in bytes. */
  activeMtu: number;
  /** The port's non-empty GID table entries, by index. */
  gids: GidInfo[];
}
