/**
 * The PD control plane's frames as a receiver parses them: room_failed's optional Retry-After (a
 * prefill node full, not broken) is taken only as a positive whole number of seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_PROTOCOL_VERSION, parsePrefillToDecode } from '../../src/pd/control-protocol.js';

const frame = (fields: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ v: CONTROL_PROTOCOL_VERSION, type: 'room_failed', room: '12', message: 'full', ...fields }));

test('room_failed: retryAfterSecs is absent or a positive integer; anything else drops the frame naming the field', () => {
  assert.deepEqual(parsePrefillToDecode(frame({})), { msg: { v: CONTROL_PROTOCOL_VERSION, type: 'room_failed', room: '12', message: 'full' } });
  assert.deepEqual(parsePrefillToDecode(frame({ retryAfterSecs: 1 })), { msg: { v: CONTROL_PROTOCOL_VERSION, type: 'room_failed', room: '12', message: 'full', retryAfterSecs: 1 } });
  for (const bad of [0, -1, 1.5, '1', null]) {
    assert.deepEqual(parsePrefillToDecode(frame({ retryAfterSecs: bad })), { error: 'room_failed.retryAfterSecs is missing or malformed' }, String(bad));
  }
});
