/**
 * The largest request body pd-node's HTTP servers read unless `--max-payload-size` says otherwise
 * (router and nodes alike, so a body the router relays is one the nodes take). Fastify's default,
 * 1 MiB: about 140,000 prompt tokens as input_ids, and it bounds what one connection can make a
 * server hold. sgl-router's default is 512 MiB; raise it on the router and the nodes together.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** The flag's ceiling: 1 GiB (a body is held whole in memory before it is parsed). */
export const MAX_PAYLOAD_BYTES_LIMIT = 1024 * 1024 * 1024;

/** The flag that raises the limit, named in 413 answers. */
export const MAX_PAYLOAD_FLAG = '--max-payload-size';

/** The 413 message of a body over `limit` bytes, naming what raises the limit (null: nothing named). */
export function payloadTooLarge(limit: number, setBy: string | null = MAX_PAYLOAD_FLAG): string {
  return `request body is over the limit of ${limit} bytes${setBy === null ? '' : ` (${setBy})`}`;
}
