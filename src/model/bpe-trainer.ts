/**
 * Trains a small byte-level BPE tokenizer and emits it as a Hugging Face `tokenizer.json` object.
 *
 * Decisions:
 * - Byte-level (GPT-2 style): every UTF-8 byte is a base token, shown as a printable character via the
 *   usual byte-to-unicode table, so any text (emoji, CJK, invalid bytes) encodes and decodes exactly.
 * - Words are split with the same regex the ByteLevel pre-tokenizer applies at encode time
 *   (use_regex: true), so merges are learned on exactly the pieces they will later be applied to.
 * - Training is the textbook loop: count adjacent pairs over unique words weighted by frequency, merge
 *   the most frequent pair (ties: the smaller token-id pair), repeat. Pair counts are recomputed each
 *   round; with a few KB of corpus that is milliseconds and keeps the code obviously deterministic.
 * - Id layout: special tokens first (0 `<|endoftext|>`, 1 `<|im_start|>`, 2 `<|im_end|>`, in the model
 *   vocab as well as in added_tokens, like SmolLM2), then the 256 bytes in byte order, then merges.
 *   Ids from there up to `vocabSize` are `<|reserved_N|>` tokens: random-weight models can sample any id
 *   below vocab_size, and each must decode to something. They are plain model-vocab entries (no merge
 *   produces them, so encoding never does), not added tokens: the `small` preset needs ~48k of them and
 *   @huggingface/tokenizers scans the added-token list for every token it decodes (measured 1.3 ms to
 *   decode 6 ids with 48k added tokens, 4 us without), which would dominate streaming detokenization.
 * - A merge whose result already exists (e.g. "abc" from "ab"+"c" and from "a"+"bc") reuses the token,
 *   so the trained vocab can be a little smaller than 259 + merges; the reserved tokens fill the rest.
 */
import { BPE_TRAINING_CORPUS } from './bpe-corpus.js';

export const END_OF_TEXT = '<|endoftext|>';
export const IM_START = '<|im_start|>';
export const IM_END = '<|im_end|>';
/** Special tokens in id order: they take ids 0, 1, 2. */
export const BPE_SPECIAL_TOKENS: readonly string[] = [END_OF_TEXT, IM_START, IM_END];
/** Ids taken before the first merge: the special tokens and the 256 bytes. */
export const BPE_BASE_VOCAB_SIZE = BPE_SPECIAL_TOKENS.length + 256;

/** The GPT-2 pre-tokenization pattern (contractions, letters, digits, other symbols, whitespace). */
const WORD_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export interface BpeTrainingOptions {
  /** Merges to learn (fewer if the corpus runs out of pairs). */
  numMerges: number;
  /** Total ids of the tokenizer; ids past the trained vocab become `<|reserved_N|>` tokens. */
  vocabSize: number;
  corpus?: string;
}

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The subset of the Hugging Face tokenizer.json schema this trainer produces. */
export interface BpeTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: Record<string, unknown>;
  post_processor: Record<string, unknown>;
  decoder: Record<string, unknown>;
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    ignore_merges: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/**
 * Printable stand-in for each byte: printable Latin-1 bytes map to themselves, the other bytes to
 * U+0100 onwards in byte order (the GPT-2 convention that HF's ByteLevel pre-tokenizer/decoder use).
 */
export function byteToUnicodeTable(): string[] {
  const isPrintable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table.push(String.fromCharCode(isPrintable(b) ? b : next++));
  return table;
}

/** Unique pre-tokenized words of `corpus` (as byte-level strings) with their frequencies. */
function countWords(corpus: string, byteChars: readonly string[]): Map<string, number> {
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const piece of corpus.match(WORD_PATTERN) ?? []) {
    const word = Array.from(encoder.encode(piece), (b) => byteChars[b]).join('');
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts;
}

/** Pair (a, b) of token ids is counted under the key a * PAIR_BASE + b. */
const PAIR_BASE = 1 << 20;

/** The most frequent adjacent pair, or undefined when every word is a single token. */
function mostFrequentPair(words: readonly number[][], freqs: readonly number[]): [number, number] | undefined {
  const counts = new Map<number, number>();
  for (let w = 0; w < words.length; w++) {
    const symbols = words[w];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] * PAIR_BASE + symbols[i + 1];
      counts.set(key, (counts.get(key) ?? 0) + freqs[w]);
    }
  }
  let bestKey = -1;
  let bestCount = 0;
  for (const [key, count] of counts) {
    if (count > bestCount || (count === bestCount && key < bestKey)) {
      bestKey = key;
      bestCount = count;
    }
  }
  return bestKey < 0 ? undefined : [Math.floor(bestKey / PAIR_BASE), bestKey % PAIR_BASE];
}

function applyMerge(symbols: number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(merged);
      i++;
    } else {
      out.push(symbols[i]);
    }
  }
  return out;
}

export function trainByteLevelBpe(options: BpeTrainingOptions): BpeTokenizerJson {
  const { numMerges, vocabSize, corpus = BPE_TRAINING_CORPUS } = options;
  if (!Number.isInteger(numMerges) || numMerges < 0) throw new Error(`BPE training: numMerges must be a non-negative integer (got ${numMerges})`);
  if (!Number.isInteger(vocabSize) || vocabSize < BPE_BASE_VOCAB_SIZE + numMerges) {
    throw new Error(`BPE training: vocabSize ${vocabSize} is smaller than ${BPE_SPECIAL_TOKENS.length} special + 256 byte tokens + ${numMerges} merges`);
  }

  const byteChars = byteToUnicodeTable();
  const tokens = [...BPE_SPECIAL_TOKENS, ...byteChars];
  const vocab = new Map(tokens.map((t, id) => [t, id]));
  const wordCounts = countWords(corpus, byteChars);
  let words = [...wordCounts.keys()].map((w) => Array.from(w, (ch) => vocab.get(ch)!));
  const freqs = [...wordCounts.values()];

  const merges: string[] = [];
  while (merges.length < numMerges) {
    const pair = mostFrequentPair(words, freqs);
    if (pair === undefined) break;
    const [left, right] = pair;
    const text = tokens[left] + tokens[right];
    if (!vocab.has(text)) {
      vocab.set(text, tokens.length);
      tokens.push(text);
    }
    const merged = vocab.get(text)!;
    merges.push(`${tokens[left]} ${tokens[right]}`);
    words = words.map((symbols) => applyMerge(symbols, left, right, merged));
  }

  const trainedSize = tokens.length;
  for (let id = trainedSize; id < vocabSize; id++) vocab.set(`<|reserved_${id - trainedSize}|>`, id);

  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BPE_SPECIAL_TOKENS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}
