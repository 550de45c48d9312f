/**
 * What kind of address a host string is, for publishing and for the registry's checks. Pure string
 * tests (no DNS): `localhost` counts as loopback by name, any other name as routable.
 *
 * - Wildcard (0.0.0.0, ::, the empty host): an address to bind, never one to reach.
 * - Loopback (127.0.0.0/8, ::1, ::ffff:127.x, localhost): reachable only from the same host.
 */
import { isIPv4 } from 'node:net';

const WILDCARDS = new Set(['', '0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/** Strips the brackets of an IPv6 host as URLs write it (`[::1]` -> `::1`). */
export function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export function isWildcardHost(host: string): boolean {
  return WILDCARDS.has(bareHost(host).toLowerCase());
}

export function isLoopbackHost(host: string): boolean {
  const h = bareHost(host).toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIPv4(v4) && v4.startsWith('127.');
}

/** The host of `tcp://HOST:PORT` or `http(s)://HOST:PORT/...`, brackets stripped; null if it has none. */
export function hostOfUrl(url: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(\[[^\]]*\]|[^/:?#]*)/i.exec(url);
  return m === null ? null : bareHost(m[1]);
}

/** `HOST:PORT` with an IPv6 host in brackets, as URLs need it. */
export function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
