/**
 * TextTokenizer over a Hugging Face `tokenizer.json` + `tokenizer_config.json` (@huggingface/tokenizers).
 *
 * Decisions:
 * - BOS: `add_bos_token: true` in tokenizer_config.json prepends BOS when special tokens are requested,
 *   unless the tokenizer's own post-processor already put it there (Llama-3 style TemplateProcessing),
 *   so BOS is never doubled.
 * - EOS ids are the config's `eos_token` plus any `extraEosTokenIds`; `fromDir` passes the ids of
 *   generation_config.json, which is where chat models list their end-of-turn token (e.g. <|im_end|>).
 * - `clean_up_tokenization_spaces` is honoured only when tokenizer_config.json sets it to true. The library
 *   defaults to true, which rewrites " ." to "." and so breaks exact round trips and the prefix property
 *   incremental detokenization relies on.
 * - Decoding an id outside [0, vocabSize) throws: the library would silently render it as nothing.
 * - The chat template comes from tokenizer_config.json, else `chat_template.jinja` (newer transformers
 *   store it there), else ChatML.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CHATML_TEMPLATE, ChatTemplate } from './chat-template.js';
import { isJsonObject, readJsonFile } from './json-file.js';
import type { ChatMessage, TextTokenizer } from './types.js';

export interface HfTokenizerOptions {
  /** Template to use when tokenizer_config.json has none (default: ChatML). */
  chatTemplate?: string;
  /** Further end-of-sequence ids (e.g. from generation_config.json). */
  extraEosTokenIds?: readonly number[];
}

type JsonObject = Record<string, unknown>;

/** Content of a special-token field, which HF writes either as a string or as an AddedToken object. */
function tokenContent(config: JsonObject, key: string): string | null {
  const value = config[key];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (isJsonObject(value) && typeof value.content === 'string') return value.content;
  throw new Error(`tokenizer_config.json: ${key} must be a string or {content} (got ${JSON.stringify(value)})`);
}

/** The template source in tokenizer_config.json: a string, or a list of named templates ("default" is used). */
function configChatTemplate(config: JsonObject): string | undefined {
  const value = config.chat_template;
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => isJsonObject(t) && t.name === 'default');
    if (isJsonObject(named) && typeof named.template === 'string') return named.template;
  }
  throw new Error('tokenizer_config.json: chat_template must be a string or a list of {name, template} with a "default" entry');
}

/** eos_token_id of generation_config.json (a number or a list), or none. */
function generationEosIds(dir: string): number[] {
  const path = join(dir, 'generation_config.json');
  if (!existsSync(path)) return [];
  const config = readJsonFile(path);
  const eos = isJsonObject(config) ? config.eos_token_id : undefined;
  const ids = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!ids.every((id) => Number.isInteger(id) && id >= 0)) {
    throw new Error(`${path}: eos_token_id must be a token id or a list of them (got ${JSON.stringify(eos)})`);
  }
  return ids;
}

export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  private readonly tokenizer: Tokenizer;
  private readonly specialIds: ReadonlySet<number>;
  private readonly addBosToken: boolean;
  private readonly cleanUpSpaces: boolean;
  private readonly chatTemplate: ChatTemplate;
  private readonly bosToken: string;
  private readonly eosToken: string;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, options: HfTokenizerOptions = {}) {
    if (!isJsonObject(tokenizerJson)) throw new Error('tokenizer.json: must be a JSON object');
    const config = tokenizerConfig ?? {};
    if (!isJsonObject(config)) throw new Error('tokenizer_config.json: must be a JSON object');
    this.tokenizer = new Tokenizer(tokenizerJson, config);
    let maxId = -1;
    for (const id of this.tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.specialIds = new Set([...this.tokenizer.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));

    const idOf = (key: string, content: string | null): number | null => {
      if (content === null) return null;
      const id = this.tokenizer.token_to_id(content);
      if (id === undefined) throw new Error(`tokenizer_config.json: ${key} ${JSON.stringify(content)} is not in the vocabulary`);
      return id;
    };
    const bos = tokenContent(config, 'bos_token');
    const eos = tokenContent(config, 'eos_token');
    this.bosToken = bos ?? '';
    this.eosToken = eos ?? '';
    this.bosTokenId = idOf('bos_token', bos);
    const eosId = idOf('eos_token', eos);
    this.eosTokenIds = [...new Set([...(eosId === null ? [] : [eosId]), ...(options.extraEosTokenIds ?? [])])];
    this.addBosToken = config.add_bos_token === true;
    this.cleanUpSpaces = config.clean_up_tokenization_spaces === true;
    this.chatTemplate = new ChatTemplate(configChatTemplate(config) ?? options.chatTemplate ?? CHATML_TEMPLATE);
  }

  /** Loads tokenizer.json, tokenizer_config.json (optional), chat_template.jinja and generation_config.json (optional). */
  static fromDir(dir: string): HfTokenizer {
    const tokenizerPath = join(dir, 'tokenizer.json');
    if (!existsSync(tokenizerPath)) throw new Error(`${dir}: no tokenizer.json`);
    const configPath = join(dir, 'tokenizer_config.json');
    const templatePath = join(dir, 'chat_template.jinja');
    return new HfTokenizer(readJsonFile(tokenizerPath), existsSync(configPath) ? readJsonFile(configPath) : {}, {
      chatTemplate: existsSync(templatePath) ? readFileSync(templatePath, 'utf8') : undefined,
      extraEosTokenIds: generationEosIds(dir),
    });
  }

  encode(text: string, addSpecialTokens: boolean): number[] {
    const ids = this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
    if (addSpecialTokens && this.addBosToken && this.bosTokenId !== null && ids[0] !== this.bosTokenId) ids.unshift(this.bosTokenId);
    return ids;
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], {
      skip_special_tokens: skipSpecialTokens,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    return this.chatTemplate.render(messages, addGenerationPrompt, { bosToken: this.bosToken, eosToken: this.eosToken });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }
}
