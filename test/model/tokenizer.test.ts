/** HfTokenizer: round trips, special tokens, BOS rules and chat templates, on generated and hand-made configs. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { trainByteLevelBpe } from '../../src/model/bpe-trainer.js';
import { genModel } from '../../src/model/gen-model.js';
import { HfTokenizer } from '../../src/model/tokenizer.js';

const tmp = mkdtempSync(join(tmpdir(), 'pd-tokenizer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const modelDir = genModel({ outDir: join(tmp, 'tiny') });
const tokenizer = HfTokenizer.fromDir(modelDir);
const bpeJson = trainByteLevelBpe({ numMerges: 253, vocabSize: 512 });

describe('HfTokenizer on a generated model', () => {
  it('reports vocab, BOS and EOS from the model files', () => {
    assert.equal(tokenizer.vocabSize, 512);
    assert.equal(tokenizer.bosTokenId, 0);
    assert.deepEqual(tokenizer.eosTokenIds, [0, 2], '<|endoftext|> from tokenizer_config, <|im_end|> from generation_config');
    assert.ok(tokenizer.isSpecial(1));
    assert.ok(!tokenizer.isSpecial(100));
  });

  for (const text of ['Hello, world!', 'naïve café in Zürich', 'emoji 😀👍🏽🦙 and 東京, 中文, 한국어', ' a . b , c ', '']) {
    it(`round-trips ${JSON.stringify(text)}`, () => {
      const ids = tokenizer.encode(text, true);
      assert.equal(tokenizer.decode(ids, false), text);
    });
  }

  it('encodes special tokens in text as single ids and can skip them when decoding', () => {
    const ids = tokenizer.encode('<|im_start|>user\nhi<|im_end|>', false);
    assert.equal(ids[0], 1);
    assert.equal(ids[ids.length - 1], 2);
    assert.equal(tokenizer.decode(ids, true), 'user\nhi');
  });

  it('decodes every id below vocabSize, reserved ones included, and rejects others', () => {
    const all = Array.from({ length: 512 }, (_, i) => i);
    assert.equal(typeof tokenizer.decode(all, false), 'string');
    assert.throws(() => tokenizer.decode([512], false), /token id 512 is outside the vocabulary \[0, 512\)/);
    assert.throws(() => tokenizer.decode([-1], false), /outside the vocabulary/);
  });

  it('renders the ChatML chat template', () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi!' },
    ];
    assert.equal(
      tokenizer.applyChatTemplate(messages, true),
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n',
    );
    assert.equal(tokenizer.applyChatTemplate(messages.slice(1), false), '<|im_start|>user\nHi!<|im_end|>\n');
  });
});

describe('HfTokenizer options from tokenizer_config.json', () => {
  it('prepends BOS once when add_bos_token is set', () => {
    const t = new HfTokenizer(bpeJson, { bos_token: '<|endoftext|>', add_bos_token: true });
    const ids = t.encode('hi', true);
    assert.equal(ids[0], 0);
    assert.notEqual(ids[1], 0);
    assert.notEqual(t.encode('hi', false)[0], 0);
    assert.deepEqual(t.encode('<|endoftext|>hi', true), ids, 'no second BOS when the text starts with it');
  });

  it('accepts AddedToken objects for bos/eos and passes them to the template', () => {
    const t = new HfTokenizer(bpeJson, {
      bos_token: { content: '<|endoftext|>', __type: 'AddedToken' },
      eos_token: { content: '<|im_end|>' },
      chat_template: '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}',
    });
    assert.deepEqual(t.eosTokenIds, [2]);
    assert.equal(t.applyChatTemplate([{ role: 'user', content: 'x' }], true), '<|endoftext|>[user] x<|im_end|>[assistant]');
  });

  it('uses the "default" entry of a list of named templates, and ChatML when there is none', () => {
    const named = new HfTokenizer(bpeJson, { chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] });
    assert.equal(named.applyChatTemplate([], false), 'D');
    assert.equal(new HfTokenizer(bpeJson, {}).applyChatTemplate([{ role: 'user', content: 'q' }], false), '<|im_start|>user\nq<|im_end|>\n');
  });

  it('reads chat_template.jinja when tokenizer_config.json has no template', () => {
    const dir = mkdtempSync(join(tmp, 'jinja-'));
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bpeJson));
    writeFileSync(join(dir, 'chat_template.jinja'), '{% for m in messages %}<{{ m.content }}>{% endfor %}');
    assert.equal(HfTokenizer.fromDir(dir).applyChatTemplate([{ role: 'user', content: 'a' }], false), '<a>');
  });

  it('fails clearly on unknown special tokens and broken templates', () => {
    assert.throws(() => new HfTokenizer(bpeJson, { eos_token: '</s>' }), /eos_token "<\/s>" is not in the vocabulary/);
    assert.throws(() => new HfTokenizer(bpeJson, { chat_template: '{% for %}' }), /chat template does not parse/);
    assert.throws(() => HfTokenizer.fromDir(join(tmp, 'nowhere')), /no tokenizer\.json/);
  });
});
