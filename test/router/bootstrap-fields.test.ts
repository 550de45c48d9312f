/**
 * Bootstrap fields as text: rooms in [0, 2^63) written as exact integer literals, the client's bytes
 * kept, batches detected the way SGLang shapes them, router-owned fields refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batchSize, mintRoom, refuseBootstrapFields, withBootstrap } from '../../src/router/bootstrap-fields.js';
import { HttpError } from '../../src/server/errors.js';

describe('bootstrap fields', () => {
  test('rooms are distinct 63-bit integers', () => {
    const rooms = Array.from({ length: 256 }, mintRoom);
    assert.equal(new Set(rooms).size, rooms.length);
    for (const r of rooms) assert.ok(r >= 0n && r < 1n << 63n);
    assert.ok(rooms.some((r) => r >= 1n << 62n), 'the top bit of the 63 is used');
  });

  test('a single prompt gets scalars appended to the exact client text', () => {
    const text = '{ "text" : "hi",\n "sampling_params": {"seed": 123456789012345678901234} }\n';
    const room = (1n << 63n) - 1n;
    const out = withBootstrap(text, false, { host: 'fe80::1', port: 8998, rooms: [room], batch: false });
    assert.equal(out, '{ "text" : "hi",\n "sampling_params": {"seed": 123456789012345678901234} ,"bootstrap_host":"fe80::1","bootstrap_port":8998,"bootstrap_room":9223372036854775807}');
    assert.match(out, /"bootstrap_room":9223372036854775807}$/, 'digits beyond 2^53 written exactly');
  });

  test('an empty object gets no leading comma; a batch gets lists', () => {
    assert.equal(withBootstrap('{}', true, { host: 'h', port: 1, rooms: [5n], batch: false }), '{"bootstrap_host":"h","bootstrap_port":1,"bootstrap_room":5}');
    assert.equal(
      withBootstrap('{"text":["a","b"]}', false, { host: 'h', port: 2, rooms: [3n, 4n], batch: true }),
      '{"text":["a","b"],"bootstrap_host":["h","h"],"bootstrap_port":[2,2],"bootstrap_room":[3,4]}',
    );
  });

  test('batch detection', () => {
    assert.equal(batchSize({ text: 'x' }), null);
    assert.equal(batchSize({ text: ['x', 'y'] }), 2);
    assert.equal(batchSize({ input_ids: [1, 2, 3] }), null);
    assert.equal(batchSize({ input_ids: [[1], [2, 3]] }), 2);
    assert.equal(batchSize({ prompt: 'x' }), null);
    assert.equal(batchSize({ prompt: [1, 2] }), null);
    assert.equal(batchSize({ prompt: ['a', 'b', 'c'] }), 3);
    assert.equal(batchSize({ prompt: [[1], [2]] }), 2);
    assert.equal(batchSize({ messages: [{ role: 'user', content: 'x' }] }), null);
  });

  test('a client may not set bootstrap fields', () => {
    assert.doesNotThrow(() => refuseBootstrapFields({ text: 'x' }));
    for (const field of ['bootstrap_host', 'bootstrap_port', 'bootstrap_room']) {
      assert.throws(() => refuseBootstrapFields({ text: 'x', [field]: 0 }), (err: unknown) => err instanceof HttpError && err.status === 400 && err.param === field);
      // SGLang's "not given": the router's own fields, appended after, win.
      assert.doesNotThrow(() => refuseBootstrapFields({ text: 'x', [field]: null }));
      assert.doesNotThrow(() => refuseBootstrapFields({ text: ['x', 'y'], [field]: [null, null] }));
    }
  });
});
