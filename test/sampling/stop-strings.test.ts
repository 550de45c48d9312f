import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopStringMatcher } from '../../src/sampling/stop-strings.js';

test('a stop string split across deltas ends the text right before it', () => {
  const m = new StopStringMatcher(['</end>', 'STOP']);
  const shown: string[] = [];
  let matched: string | null = null;
  for (const d of ['Hello ', 'wor', 'ld </', 'en', 'd> tail']) {
    const r = m.push(d);
    shown.push(r.text);
    if (r.matched) {
      matched = r.matched;
      break;
    }
  }
  assert.equal(matched, '</end>');
  assert.equal(shown.join(''), 'Hello world ');
  // "</" and "</en" were held back, never shown.
  assert.ok(!shown.some((s) => s.includes('<')));
});

test('held-back text is released when it stops looking like a stop string', () => {
  const m = new StopStringMatcher(['ab']);
  assert.deepEqual(m.push('xa'), { text: 'x', matched: null });
  assert.deepEqual(m.push('c'), { text: 'ac', matched: null });
  assert.deepEqual(m.push('a'), { text: '', matched: null });
  assert.equal(m.flush(), 'a');
});

test('the earliest stop string wins and no stops means pass-through', () => {
  const m = new StopStringMatcher(['cd', 'bc']);
  assert.deepEqual(m.push('abcd'), { text: 'a', matched: 'bc' });
  const none = new StopStringMatcher([]);
  assert.deepEqual(none.push('anything'), { text: 'anything', matched: null });
});
