/**
 * Request fields that SGLang (GenerateReqInput, SamplingParams, its OpenAI CompletionRequest and
 * ChatCompletionRequest) or OpenAI's API define but that have no implementation here. They are
 * accepted, so SGLang's clients work unchanged (bench_serving always sends `lora_path: null`, the
 * OpenAI payloads `best_of: 1`). Decisions:
 * - `ignored`: a hint or a label that does not change the answer (routing ranks, priorities, cache
 *   keys, metric labels, trace headers): any value is accepted and has no effect.
 * - `neutral`: a feature that would change the answer (multimodal input, LoRA, grammars, penalties,
 *   hidden states...): its "off" value (null, the default, an empty list or a list of nulls) is
 *   accepted; anything else is a 400 naming the field and saying why, never a silent no-op.
 * - A field that neither SGLang nor OpenAI defines is still an unknown field (400).
 * docs/sglang-compatibility.md lists these tables; a test keeps the two in step.
 */
import { HttpError } from '../errors.js';

export interface CompatField {
  /** Values that mean "feature off"; absent: the field is a hint, ignored whatever its value. */
  neutral?: (value: unknown) => boolean;
  why: string;
}

export type CompatTable = Readonly<Record<string, CompatField>>;

/** null, or a list of nulls (SGLang's per-prompt lists), means "not used". */
const isNone = (v: unknown): boolean => v === null || (Array.isArray(v) && v.every((x) => x === null));
const oneOf =
  (...values: unknown[]) =>
  (v: unknown): boolean =>
    isNone(v) || values.some((ok) => JSON.stringify(ok) === JSON.stringify(v));
const noneOrEmpty = oneOf([], {}, '');

const hint = (why: string): CompatField => ({ why });
const off = (neutral: (v: unknown) => boolean, why: string): CompatField => ({ neutral, why });

const NO_MULTIMODAL = 'pd-node serves text models only';
const NO_LORA = 'no LoRA adapters are loaded here';
const NO_GRAMMAR = 'constrained decoding (grammars) is not implemented';
const NO_HIDDEN = 'the engines do not export hidden states or expert routing';
const NO_SESSIONS = 'sessions (continual prompting) are not implemented';
const SINGLE_RANK = 'one data-parallel rank per node: there is nothing to route to';
const LABEL = 'a label or cache/routing key with no effect on the answer here';

/** Fields of SGLang's GenerateReqInput (POST /generate) without an implementation here. */
export const GENERATE_COMPAT: CompatTable = {
  session_id: hint('identity only (SGLang: does not alter the prompt); no sessions here'),
  input_embeds: off(isNone, 'prompts are text or token ids; embeddings cannot be fed to the engines'),
  image_data: off(noneOrEmpty, NO_MULTIMODAL),
  video_data: off(noneOrEmpty, NO_MULTIMODAL),
  audio_data: off(noneOrEmpty, NO_MULTIMODAL),
  mm_hashes: off(noneOrEmpty, NO_MULTIMODAL),
  mm_content_hashes: off(noneOrEmpty, NO_MULTIMODAL),
  use_audio_in_video: hint('only read with video input, which is refused'),
  video_config: hint('only read with video input, which is refused'),
  modalities: hint('only read with image input, which is refused'),
  token_ids_logprob: off(noneOrEmpty, 'logprobs of chosen token ids are not implemented; use top_logprobs_num'),
  return_sampling_mask: off(oneOf(false), 'sampling masks are not exported'),
  return_flat_raw_top_logprobs: off(oneOf(false), 'top logprobs come as nested lists only'),
  return_flat_raw_top_logprobs_b64: off(oneOf(false), 'top logprobs come as nested lists only'),
  log_metrics: hint('every client request is counted in the metrics'),
  return_hidden_states: off(oneOf(false), NO_HIDDEN),
  return_routed_experts: off(oneOf(false), NO_HIDDEN),
  routed_experts_start_len: hint('only read with return_routed_experts, which is refused'),
  return_indexer_topk: off(oneOf(false), NO_HIDDEN),
  session_params: off(noneOrEmpty, NO_SESSIONS),
  lora_path: off(noneOrEmpty, NO_LORA),
  lora_id: off(noneOrEmpty, NO_LORA),
  custom_logit_processor: off(noneOrEmpty, 'custom logit processors (Python code) cannot run here'),
  positional_embed_overrides: off(isNone, 'prompts are text or token ids; embeddings cannot be fed to the engines'),
  bootstrap_pair_key: hint('PD rooms are keyed by bootstrap_room alone'),
  decode_tp_size: hint('KV pages are laid out the same whatever the --tp of either side'),
  routed_dp_rank: hint(SINGLE_RANK),
  data_parallel_rank: hint(SINGLE_RANK),
  disagg_prefill_dp_rank: hint(SINGLE_RANK),
  kv_router_hint: hint('no hierarchical KV cache storage to take the hint'),
  routing_key: hint(LABEL),
  conversation_id: hint(LABEL),
  http_worker_ipc: hint('SGLang-internal (multi-tokenizer IPC)'),
  background: hint('OpenAI Responses API background mode; /generate always answers in the foreground'),
  require_reasoning: off(oneOf(false), 'no hybrid reasoning models here'),
  max_thinking_tokens: off(isNone, 'no hybrid reasoning models here'),
  priority: hint('scheduling is first come, first served'),
  extra_key: hint(LABEL),
  no_logs: hint('request log lines carry ids and token counts, never prompt or output text'),
  custom_labels: hint(LABEL),
  return_bytes: off(oneOf(false), 'image generation only'),
  return_entropy: off(oneOf(false), 'entropies are not exported'),
  return_prompt_token_ids: off(oneOf(false), 'not implemented; prompt_tokens counts them'),
  external_trace_header: hint('no tracing here; logs carry the request id'),
  received_time: hint('latencies count from when this node read the request'),
  need_wait_for_mm_inputs: off(isNone, NO_MULTIMODAL),
  num_items_assigned: off(isNone, NO_MULTIMODAL),
  encoder_urls: off(noneOrEmpty, NO_MULTIMODAL),
  max_dynamic_patch: hint('only read with image input, which is refused'),
  min_dynamic_patch: hint('only read with image input, which is refused'),
  image_max_dynamic_patch: hint('only read with image input, which is refused'),
  video_max_dynamic_patch: hint('only read with video input, which is refused'),
  images_config: hint('only read with image input, which is refused'),
  multi_item_delimiter_indices: off(noneOrEmpty, 'multi-item scoring is not implemented'),
  cache_salt: hint(LABEL),
};

/** Fields of SGLang's SamplingParams (`sampling_params.*`) without an implementation here. */
export const SAMPLING_COMPAT: CompatTable = {
  stop_regex: off(noneOrEmpty, 'stop strings are literal; regular expressions are not matched'),
  frequency_penalty: off(oneOf(0), 'penalties are not implemented'),
  presence_penalty: off(oneOf(0), 'penalties are not implemented'),
  repetition_penalty: off(oneOf(1), 'penalties are not implemented'),
  min_new_tokens: off(oneOf(0), 'EOS cannot be suppressed for a minimum length; use ignore_eos'),
  n: off(oneOf(1), 'one sample per prompt; send the prompt n times (a batch) instead'),
  json_schema: off(isNone, NO_GRAMMAR),
  regex: off(isNone, NO_GRAMMAR),
  ebnf: off(isNone, NO_GRAMMAR),
  structural_tag: off(isNone, NO_GRAMMAR),
  spaces_between_special_tokens: hint('special tokens (kept with skip_special_tokens false) are decoded without added spaces'),
  no_stop_trim: off(oneOf(false), 'a matched stop string is always trimmed from the output'),
  custom_params: hint('only read by custom logit processors, which are refused'),
  stream_interval: hint('every token is streamed as it is produced'),
  logit_bias: off(noneOrEmpty, 'logit bias is not implemented'),
};

/** Fields shared by SGLang's CompletionRequest and ChatCompletionRequest without an implementation here. */
const OPENAI_SHARED_COMPAT: CompatTable = {
  logit_bias: SAMPLING_COMPAT.logit_bias,
  return_hidden_states: GENERATE_COMPAT.return_hidden_states,
  return_routed_experts: GENERATE_COMPAT.return_routed_experts,
  routed_experts_start_len: GENERATE_COMPAT.routed_experts_start_len,
  return_cached_tokens_details: off(oneOf(false), 'usage.prompt_tokens_details.cached_tokens is always reported; no per-tier breakdown'),
  return_token_ids: off(oneOf(false), 'token ids are not added to OpenAI choices; /generate returns output_ids'),
  min_tokens: SAMPLING_COMPAT.min_new_tokens,
  regex: SAMPLING_COMPAT.regex,
  ebnf: SAMPLING_COMPAT.ebnf,
  repetition_penalty: SAMPLING_COMPAT.repetition_penalty,
  stop_regex: SAMPLING_COMPAT.stop_regex,
  no_stop_trim: SAMPLING_COMPAT.no_stop_trim,
  lora_path: GENERATE_COMPAT.lora_path,
  session_id: GENERATE_COMPAT.session_id,
  session_params: GENERATE_COMPAT.session_params,
  response_format: off(oneOf({ type: 'text' }), NO_GRAMMAR),
  custom_params: SAMPLING_COMPAT.custom_params,
  custom_logit_processor: GENERATE_COMPAT.custom_logit_processor,
  images_config: GENERATE_COMPAT.images_config,
  routed_dp_rank: GENERATE_COMPAT.routed_dp_rank,
  disagg_prefill_dp_rank: GENERATE_COMPAT.disagg_prefill_dp_rank,
  data_parallel_rank: GENERATE_COMPAT.data_parallel_rank,
  extra_key: GENERATE_COMPAT.extra_key,
  cache_salt: GENERATE_COMPAT.cache_salt,
  ngram_corpus_id: hint('no n-gram speculative decoding here'),
  priority: GENERATE_COMPAT.priority,
};

/** POST /v1/completions: SGLang's CompletionRequest and OpenAI's completions fields without an implementation here. */
export const COMPLETION_COMPAT: CompatTable = {
  ...OPENAI_SHARED_COMPAT,
  best_of: off(oneOf(1), 'one candidate per prompt (best_of 1)'),
  echo: off(oneOf(false), 'the prompt is not echoed back'),
  suffix: off(oneOf(''), 'insertion (suffix) is not implemented'),
  json_schema: SAMPLING_COMPAT.json_schema,
  custom_labels: GENERATE_COMPAT.custom_labels,
};

/** POST /v1/chat/completions: SGLang's ChatCompletionRequest and OpenAI's chat fields without an implementation here. */
export const CHAT_COMPAT: CompatTable = {
  ...OPENAI_SHARED_COMPAT,
  tools: off(noneOrEmpty, 'tool calling is not implemented'),
  tool_choice: off(oneOf('none', 'auto'), 'tool calling is not implemented'),
  parallel_tool_calls: hint('only read with tools, which are refused'),
  functions: off(noneOrEmpty, 'function calling is not implemented'),
  function_call: off(oneOf('none', 'auto'), 'function calling is not implemented'),
  return_prompt_token_ids: GENERATE_COMPAT.return_prompt_token_ids,
  return_meta_info: off(oneOf(false), 'SGLang meta_info is returned by /generate only'),
  reasoning_effort: hint('no reasoning models here'),
  reasoning: hint('no reasoning models here'),
  verbosity: hint('no reasoning models here'),
  task: off(isNone, 'DeepSeek-V4 task tokens are not implemented'),
  continue_final_message: off(oneOf(false), 'the chat template always opens a new assistant turn'),
  separate_reasoning: hint('no reasoning models here'),
  stream_reasoning: hint('no reasoning models here'),
  chat_template_kwargs: off(noneOrEmpty, 'the chat template takes no extra arguments here'),
  max_dynamic_patch: GENERATE_COMPAT.max_dynamic_patch,
  min_dynamic_patch: GENERATE_COMPAT.min_dynamic_patch,
  use_audio_in_video: GENERATE_COMPAT.use_audio_in_video,
  input_ids: off(noneOrEmpty, 'chat prompts are rendered from messages; use /v1/completions or /generate for token ids'),
  audio: off(isNone, NO_MULTIMODAL),
  modalities: off(oneOf(['text']), NO_MULTIMODAL),
  prediction: off(isNone, 'predicted outputs are not implemented'),
  web_search_options: off(isNone, 'no web search here'),
  metadata: hint(LABEL),
  store: hint('nothing is stored'),
  service_tier: hint('one service tier'),
  prompt_cache_key: hint(LABEL),
  prompt_cache_retention: hint(LABEL),
  safety_identifier: hint(LABEL),
};

/** Fields of a chat message (`messages[i]`) in SGLang's ChatCompletionRequest without an implementation here. */
export const MESSAGE_COMPAT: CompatTable = {
  tool_calls: CHAT_COMPAT.tools,
  tools: CHAT_COMPAT.tools,
  name: hint('the chat template does not render speaker names'),
  tool_call_id: hint('only read in tool messages; the role tool is refused'),
  reasoning_content: hint('no reasoning models here: earlier reasoning is not rendered'),
};

/** JSON-schema properties for a table: any JSON value (the value is checked by `checkCompatFields`). */
export function compatProperties(table: CompatTable): Record<string, object> {
  return Object.fromEntries(Object.keys(table).map((name) => [name, {}]));
}

/** Refuses a feature field with a value other than "off". `prefix` names the fields' parent ('sampling_params.'). */
export function checkCompatFields(body: object, table: CompatTable, prefix = ''): void {
  for (const name in body) {
    const field = table[name];
    const value = (body as Record<string, unknown>)[name];
    if (field?.neutral === undefined || field.neutral(value)) continue;
    throw new HttpError(400, `${prefix}${name} = ${JSON.stringify(value)} is not supported: ${field.why}; send null or leave it out`, `${prefix}${name}`);
  }
}
