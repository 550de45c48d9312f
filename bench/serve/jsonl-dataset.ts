/**
 * Prompts from a JSONL file, one object per line, in either shape:
 * - ShareGPT: `{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}]}`.
 *   The first human turn is the prompt; the gpt turn after it gives the output length, counted in
 *   tokens by the model's tokenizer (so the load matches what the conversation produced). Lines
 *   without such a pair are skipped and counted, as bench_serving filters them.
 * - `{"prompt": "...", "output_len": N}` (no tokenizer needed).
 * Decisions: a line that is not JSON, or an object of neither shape, is an error naming the file and
 * line (a silently ignored typo would change the load). Prompts are shuffled with the seed and reused
 * in turn when --num-prompts asks for more than the file has.
 */
import { readFileSync } from 'node:fs';
import { Prng } from '../../src/random/prng.js';
import type { BenchPrompt } from './dataset.js';

export interface JsonlDataset {
  prompts: BenchPrompt[];
  /** Conversation lines without a human turn followed by a gpt turn. */
  skipped: number;
  /** Distinct prompts in the file (prompts repeat when fewer than asked for). */
  distinct: number;
}

/** Counts the tokens of an output text; needed only for ShareGPT lines. */
export type TokenCounter = (text: string) => number;

type Turn = { from?: unknown; value?: unknown };

const HUMAN = new Set(['human', 'user']);
const GPT = new Set(['gpt', 'assistant', 'chatgpt', 'bard']);

export function loadJsonlDataset(path: string, count: number, seed: number, countTokens: () => TokenCounter): JsonlDataset {
  const entries: { prompt: string; output: string | number }[] = [];
  let skipped = 0;
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not JSON (${(err as Error).message})`);
    }
    if (typeof rec !== 'object' || rec === null) throw new Error(`${where}: expected a JSON object`);
    const obj = rec as Record<string, unknown>;
    if (Array.isArray(obj.conversations)) {
      const turns = obj.conversations as Turn[];
      const h = turns.findIndex((t) => HUMAN.has(String(t?.from)) && typeof t.value === 'string');
      const g = h < 0 ? -1 : turns.findIndex((t, j) => j > h && GPT.has(String(t?.from)) && typeof t.value === 'string');
      if (g < 0) skipped++;
      else entries.push({ prompt: turns[h].value as string, output: turns[g].value as string });
    } else if (typeof obj.prompt === 'string' && Number.isSafeInteger(obj.output_len) && (obj.output_len as number) >= 1) {
      entries.push({ prompt: obj.prompt, output: obj.output_len as number });
    } else {
      throw new Error(`${where}: expected {"conversations": [...]} or {"prompt": string, "output_len": positive integer}`);
    }
  });
  if (entries.length === 0) throw new Error(`${path}: no usable prompt (${skipped} conversations without a human turn followed by a gpt turn)`);
  shuffle(entries, new Prng(seed, 'pd-bench-jsonl-dataset'));
  let counter: TokenCounter | null = null;
  const outputLen = (output: string | number): number => (typeof output === 'number' ? output : Math.max(1, (counter ??= countTokens())(output)));
  const distinct = entries.map((e): BenchPrompt => ({ kind: 'file', input: { text: e.prompt }, inputLen: null, outputLen: outputLen(e.output) }));
  return { prompts: Array.from({ length: count }, (_, i) => distinct[i % distinct.length]), skipped, distinct: distinct.length };
}

/** Fisher-Yates with the seeded stream. */
function shuffle<T>(items: T[], rng: Prng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng.nextFloat() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
