/**
 * Frame-size bounds of the PD control sockets, enforced by ZeroMQ itself (`maxMessageSize`): a
 * larger frame disconnects the peer before its bytes are buffered, so no peer can make a node hold
 * more than this per connection (without a bound, 100 MB frames took a prefill node to 3.7 GB).
 * Sized from the largest message each direction carries, with room to spare; CURVE keeps strangers
 * out altogether, these bound what an authenticated peer with a bug can do.
 */

/**
 * Decode -> prefill: the largest message is a kv_request, whose page list names every page of one
 * room. 1,048,576 pages (a 1M-token prompt at page size 1, 16M tokens at the default 16) as JSON
 * decimals under 10,000,000 take at most 8 bytes each with the comma: 8 MiB, plus 64 KiB for the
 * rest (endpoint with its devices, model identity, layout, tokens).
 */
export const MAX_DECODE_TO_PREFILL_BYTES = (1 << 20) * 8 + 64 * 1024;

/**
 * Prefill -> decode: the largest message is a kv_done whose first token carries top logprobs; their
 * count is the request's top_logprobs_num, at most the vocabulary: 262,144 entries (the largest
 * vocabularies in use) of at most ~56 bytes as JSON ([logprob, id, "text"]) is 14 MiB; 16 MiB.
 */
export const MAX_PREFILL_TO_DECODE_BYTES = 16 * 1024 * 1024;
