/** Byte-level BPE trainer: determinism, id layout, and exact round trips through @huggingface/tokenizers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { BPE_BASE_VOCAB_SIZE, byteToUnicodeTable, trainByteLevelBpe } from '../../src/model/bpe-trainer.js';

const TEXTS = [
  'Hello, world! The quick brown fox jumps over the lazy dog.',
  'Accents: café, naïve, Zürich, São Paulo, crème brûlée.',
  'Emoji: 😀👍🏽🦙 and flags 🇫🇷, CJK: 東京 日本語 中文 你好, 한국어.',
  '  leading spaces,\ttabs\nand\r\nnewlines   ',
  "it's they're we've I'm you'll he'd 3.14159 1e-6",
];

describe('byte-level BPE trainer', () => {
  it('maps each byte to a distinct printable character (GPT-2 table)', () => {
    const table = byteToUnicodeTable();
    assert.equal(new Set(table).size, 256);
    assert.equal(table[0x41], 'A');
    assert.equal(table[0x20], '\u0120'); // space is "Ġ"
    assert.equal(table[0x0a], '\u010a'); // newline is "Ċ"
  });

  it('is deterministic and learns the requested number of merges', () => {
    const a = trainByteLevelBpe({ numMerges: 253, vocabSize: 512 });
    const b = trainByteLevelBpe({ numMerges: 253, vocabSize: 512 });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.equal(a.model.merges.length, 253);
    assert.equal(a.model.merges[0].split(' ').length, 2);
  });

  it('puts specials at 0..2, bytes next, and fills the vocab with reserved tokens', () => {
    const json = trainByteLevelBpe({ numMerges: 10, vocabSize: 300 });
    assert.deepEqual(json.added_tokens.map((t) => [t.id, t.content, t.special]), [
      [0, '<|endoftext|>', true],
      [1, '<|im_start|>', true],
      [2, '<|im_end|>', true],
    ]);
    const ids = Object.values(json.model.vocab).sort((x, y) => x - y);
    assert.deepEqual(ids, Array.from({ length: 300 }, (_, i) => i), 'every id below vocabSize is used exactly once');
    assert.equal(json.model.vocab[byteToUnicodeTable()[0]], 3);
    assert.equal(json.model.vocab['<|reserved_0|>'], BPE_BASE_VOCAB_SIZE + 10);
    assert.equal(json.model.vocab['<|reserved_30|>'], 299);
  });

  it('merges the most frequent pair first, ties going to the smaller token ids', () => {
    const merges = (corpus: string): string[] => trainByteLevelBpe({ numMerges: 2, vocabSize: 300, corpus }).model.merges;
    assert.deepEqual(merges('ab\ncd\ncd'), ['c d', 'a b']);
    assert.deepEqual(merges('cd\nab'), ['a b', 'c d']);
  });

  it('stops early when the corpus runs out of pairs', () => {
    const json = trainByteLevelBpe({ numMerges: 100, vocabSize: 400, corpus: 'aaaa bbb' });
    assert.ok(json.model.merges.length < 10);
    assert.equal(Object.keys(json.model.vocab).length, 400);
  });

  it('rejects a vocab too small for the merges', () => {
    assert.throws(() => trainByteLevelBpe({ numMerges: 300, vocabSize: 512 }), /vocabSize 512 is smaller than 3 special \+ 256 byte tokens \+ 300 merges/);
  });

  it('loads in @huggingface/tokenizers and round-trips any text exactly', () => {
    const tokenizer = new Tokenizer(trainByteLevelBpe({ numMerges: 253, vocabSize: 512 }), { clean_up_tokenization_spaces: false });
    for (const text of TEXTS) {
      const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
      assert.ok(ids.every((id: number) => id >= 3 && id < 512));
      assert.equal(tokenizer.decode(ids), text);
    }
  });

  it('learns merges that compress English', () => {
    const tokenizer = new Tokenizer(trainByteLevelBpe({ numMerges: 253, vocabSize: 512 }), {});
    const text = 'The capital of France is Paris, and the weather is sunny.';
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    assert.ok(ids.length < new TextEncoder().encode(text).length / 2, `${ids.length} tokens`);
  });
});
