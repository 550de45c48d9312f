/**
 * Streaming detokenization: feed generated ids one at a time, get back the text each one completes.
 *
 * Decisions:
 * - The prefix-offset / read-offset technique: each step decodes only the window ids[prefixOffset..]
 *   and emits what it adds beyond the (already emitted) text of ids[prefixOffset..readOffset]. Keeping
 *   the previous step's tokens as context makes decoders that treat the first token specially (e.g.
 *   SentencePiece dropping a leading space) behave as in a full decode.
 * - While the window's text ends in U+FFFD the tail may be an incomplete UTF-8 sequence that the next
 *   token completes, so nothing is emitted; `flush()` releases it at the end (as U+FFFD, like a full
 *   decode). The whole held tail is kept back, not just its last character, because byte-fallback
 *   decoders render each byte of an incomplete sequence as its own U+FFFD.
 * - Random-weight models emit long runs of stray UTF-8 bytes, each leaving a U+FFFD at the end. So that
 *   the window stays bounded, once more than MAX_PENDING ids are held back the window is cut at a token
 *   boundary no character spans (checked: decoding both sides separately gives the same text), which
 *   releases everything before the cut. Any character spans at most 4 bytes, so one of the candidate cuts
 *   works for byte-level tokenizers; if none does, the window just keeps growing (still correct).
 * - Concatenating every `push` result and the final `flush` equals decode(allIds) for such tokenizers.
 */
import type { TextTokenizer } from './types.js';

const REPLACEMENT_CHARACTER = '\uFFFD';
/** Held-back ids beyond which the window is cut. */
const MAX_PENDING = 8;
/** Ids always left after a cut: enough to hold an incomplete character of up to 4 bytes. */
const MIN_KEPT_AFTER_CUT = 4;

export interface IncrementalDetokenizerOptions {
  skipSpecialTokens?: boolean;
}

export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  private readonly skipSpecialTokens: boolean;
  /** Start of the decoded window. */
  private prefixOffset = 0;
  /** Text of ids[prefixOffset..readOffset] has been emitted in full. */
  private readOffset = 0;
  /** Length of decode(ids[prefixOffset..readOffset]). */
  private prefixTextLength = 0;

  constructor(
    private readonly tokenizer: Pick<TextTokenizer, 'decode'>,
    options: IncrementalDetokenizerOptions = {},
  ) {
    this.skipSpecialTokens = options.skipSpecialTokens ?? false;
  }

  /** Adds one generated id; returns the text it completes (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.prefixOffset, this.ids.length);
    if (!text.endsWith(REPLACEMENT_CHARACTER)) return this.emitThrough(text);
    return this.ids.length - this.readOffset > MAX_PENDING ? this.cutWindow(text) : '';
  }

  /** Releases the held-back tail (incomplete characters render as U+FFFD); call once generation ends. */
  flush(): string {
    return this.readOffset < this.ids.length ? this.emitThrough(this.decode(this.prefixOffset, this.ids.length)) : '';
  }

  private decode(from: number, to: number): string {
    return this.tokenizer.decode(this.ids.slice(from, to), this.skipSpecialTokens);
  }

  /** Emits the rest of `text` (the window's full text) and slides the window forward. */
  private emitThrough(text: string): string {
    const delta = text.slice(this.prefixTextLength);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.prefixTextLength = this.decode(this.prefixOffset, this.readOffset).length;
    return delta;
  }

  /** Restarts the window at a boundary no character spans, emitting the text before it. */
  private cutWindow(text: string): string {
    const lowest = Math.max(this.readOffset + 1, this.ids.length - MAX_PENDING);
    for (let cut = this.ids.length - MIN_KEPT_AFTER_CUT; cut >= lowest; cut--) {
      const head = this.decode(this.prefixOffset, cut);
      if (head + this.decode(cut, this.ids.length) !== text) continue;
      const delta = head.slice(this.prefixTextLength);
      this.prefixOffset = cut;
      this.readOffset = cut;
      this.prefixTextLength = 0;
      return delta;
    }
    return '';
  }
}
