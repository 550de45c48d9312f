/** IncrementalDetokenizer: streamed deltas equal a full decode, with held-back partial characters and bounded windows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trainByteLevelBpe } from '../../src/model/bpe-trainer.js';
import { IncrementalDetokenizer } from '../../src/model/incremental-detokenizer.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';

const tokenizer = new HfTokenizer(trainByteLevelBpe({ numMerges: 253, vocabSize: 512 }), {});
/** Id of the single-byte token for `byte` (bytes follow the 3 special tokens). */
const byteId = (byte: number): number => 3 + byte;

/** Decode spy: records the length of every window the detokenizer decodes. */
function spiedTokenizer(): { decode: HfTokenizer['decode']; windows: number[] } {
  const windows: number[] = [];
  return {
    windows,
    decode: (ids, skip) => {
      windows.push(ids.length);
      return tokenizer.decode(ids, skip);
    },
  };
}

function streamed(ids: readonly number[], skipSpecialTokens = false): { deltas: string[]; text: string } {
  const detok = new IncrementalDetokenizer(tokenizer, { skipSpecialTokens });
  const deltas = ids.map((id) => detok.push(id));
  deltas.push(detok.flush());
  return { deltas, text: deltas.join('') };
}

describe('IncrementalDetokenizer', () => {
  it('holds back a multi-byte character split across tokens until it is complete', () => {
    const llama = [...new TextEncoder().encode('🦙')].map(byteId);
    const { deltas } = streamed([...tokenizer.encode('A ', false), ...llama, ...tokenizer.encode('!', false)]);
    const llamaStart = tokenizer.encode('A ', false).length;
    assert.deepEqual(deltas.slice(llamaStart, llamaStart + 4), ['', '', '', '🦙']);
  });

  for (const text of ['plain ASCII text, with punctuation.', 'café 東京 😀👍🏽 中文 ありがとう — done', '🦙🦙🦙', 'flags 🇫🇷🇯🇵 at the end 🏳️‍🌈']) {
    it(`deltas concatenate to the full decode: ${JSON.stringify(text)}`, () => {
      const ids = tokenizer.encode(text, false);
      assert.ok(ids.length > 1);
      assert.equal(streamed(ids).text, tokenizer.decode(ids, false));
      assert.equal(streamed(ids).text, text);
    });
  }

  it('flush releases an incomplete trailing sequence as U+FFFD, like a full decode', () => {
    const ids = [...tokenizer.encode('ok ', false), byteId(0xf0), byteId(0x9f)];
    const detok = new IncrementalDetokenizer(tokenizer);
    const pushed = ids.map((id) => detok.push(id)).join('');
    assert.equal(pushed, 'ok ');
    assert.equal(detok.flush(), '\uFFFD');
    assert.equal(detok.flush(), '', 'nothing left after a flush');
  });

  it('skips special tokens when asked', () => {
    const ids = tokenizer.encode('<|im_start|>assistant\nHi 🦙<|im_end|>', false);
    assert.equal(streamed(ids, true).text, 'assistant\nHi 🦙');
    assert.equal(streamed(ids, false).text, '<|im_start|>assistant\nHi 🦙<|im_end|>');
  });

  it('keeps its decode window bounded through long runs of stray bytes, and stays exact', () => {
    // 200 lone continuation bytes (each leaves a U+FFFD at the end), then a 3-byte character split
    // over three tokens, and a 4-byte one interleaved with more stray bytes.
    const ids = [
      ...Array.from({ length: 200 }, () => byteId(0x80)),
      ...[0xe2, 0x82, 0xac].map(byteId),
      ...Array.from({ length: 50 }, () => byteId(0xbf)),
      ...[0xf0, 0x9f, 0xa6, 0x99].map(byteId),
    ];
    const spy = spiedTokenizer();
    const detok = new IncrementalDetokenizer(spy);
    const text = ids.map((id) => detok.push(id)).join('') + detok.flush();
    assert.equal(text, tokenizer.decode(ids, false));
    assert.ok(text.includes('€') && text.endsWith('🦙'));
    // Context of at most MAX_PENDING + 1 ids plus at most MAX_PENDING + 1 held ids, out of 257.
    assert.ok(Math.max(...spy.windows) <= 18, `largest decoded window ${Math.max(...spy.windows)}`);
  });

  it('never cuts its window inside a character', () => {
    // A byte-level vocabulary with one two-byte token that ends one character and starts the next.
    const END_AND_START = 256;
    const bytesOf = (id: number): number[] => (id === END_AND_START ? [0xac, 0xe2] : [id]);
    const byteTokenizer = { decode: (ids: readonly number[]) => new TextDecoder().decode(new Uint8Array(ids.flatMap(bytesOf))) };
    // Every step ends in U+FFFD, so the 9th id forces a cut; the first candidate boundary would split E2|82.
    const ids = [0x80, 0x80, 0x80, 0x80, 0xe2, 0x82, END_AND_START, 0x82, 0xe2, 0x82, 0xac, 0x21];
    const detok = new IncrementalDetokenizer(byteTokenizer);
    const text = ids.map((id) => detok.push(id)).join('') + detok.flush();
    assert.equal(text, byteTokenizer.decode(ids));
    assert.ok(text.includes('€'));
  });

  it('decodes each step over a window, not the whole sequence', () => {
    const ids = tokenizer.encode('The quick brown fox jumps over the lazy dog. '.repeat(20), false);
    const spy = spiedTokenizer();
    const detok = new IncrementalDetokenizer(spy);
    const text = ids.map((id) => detok.push(id)).join('') + detok.flush();
    assert.equal(text, tokenizer.decode(ids, false));
    assert.ok(Math.max(...spy.windows) <= 2, `largest decoded window ${Math.max(...spy.windows)}`);
  });

  it('matches a full decode for random ids over the whole vocabulary (what random weights emit)', () => {
    let state = 12345;
    const nextId = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 23; // top 9 bits: an id in [0, 512)
    };
    for (let trial = 0; trial < 20; trial++) {
      const ids = Array.from({ length: 60 }, nextId);
      assert.equal(streamed(ids).text, tokenizer.decode(ids, false));
      assert.equal(streamed(ids, true).text, tokenizer.decode(ids, true));
    }
  });
});
