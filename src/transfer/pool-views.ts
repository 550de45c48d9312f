/**
 * Byte views of a pool are made per run and at most MAX_VIEW_BYTES long: V8 caps a Uint8Array at
 * 2^32 elements, while a pool (and even one run: a long prompt of a large model) can pass 4 GiB, so
 * a view of the whole pool, or of a whole run, could not be made.
 */
export const MAX_VIEW_BYTES = 1 << 30;
