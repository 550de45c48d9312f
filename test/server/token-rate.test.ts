/**
 * TokenRate (sglang:gen_throughput): tokens over the last window of whole seconds, slots reused as
 * time moves on, old seconds out of the sum. The clock is the argument, so no test waits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOKEN_RATE_WINDOW_SECS, TokenRate } from '../../src/server/token-rate.js';

describe('TokenRate', () => {
  test('tokens per second over the window, old seconds dropped, reused slots reset', () => {
    const rate = new TokenRate();
    assert.equal(rate.perSecond(0), 0);
    rate.add(30, 1_000);
    rate.add(10, 1_900);
    rate.add(20, 3_500);
    assert.equal(rate.perSecond(4_000), 60 / TOKEN_RATE_WINDOW_SECS);
    // Second 1 leaves the window when second 1 + W begins; second 3 is still in.
    const w = TOKEN_RATE_WINDOW_SECS * 1000;
    assert.equal(rate.perSecond(1_000 + w), 20 / TOKEN_RATE_WINDOW_SECS);
    // Second 1 + W reuses second 1's slot: its old 40 tokens are gone, not added.
    rate.add(5, 1_000 + w);
    assert.equal(rate.perSecond(1_000 + w), 25 / TOKEN_RATE_WINDOW_SECS);
    assert.equal(rate.perSecond(3_000 + 2 * w), 0, 'idle for a window: 0');
  });
});
