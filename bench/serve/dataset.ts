/**
 * The prompts of a run. Every dataset yields `BenchPrompt`s: what to send (token ids or text) and
 * how many tokens to ask for; `max_new_tokens` with `ignore_eos` then makes the output exactly that
 * long, so PD and colocated runs do the same work. The `kind` labels a prompt's class in the
 * per-request records (short/long in the mix, random, file).
 */
export type PromptKind = 'random' | 'short' | 'long' | 'file';

export interface BenchPrompt {
  kind: PromptKind;
  input: { inputIds: number[] } | { text: string };
  /** Prompt tokens when known in advance (token-id prompts); the node reports the actual count. */
  inputLen: number | null;
  outputLen: number;
}

/** Inclusive token-count range. */
export interface LengthRange {
  min: number;
  max: number;
}
