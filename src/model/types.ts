/**
 * Model description shared by the loader, the engines and the server.
 * Field names follow our own camelCase; `parseLlamaConfig` maps Hugging Face `config.json` onto it.
 */

/** Llama-architecture hyper-parameters (also fits Mistral/Qwen2-style configs without biases). */
export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** dtype of the weights on disk, as config.json names it (float32, float16, bfloat16). */
  torchDtype: string;
}

/** One decoder layer; every matrix is row-major [out, in] as stored by HF `nn.Linear`. */
export interface LayerWeights {
  inputNorm: Float32Array; // [hidden]
  q: Float32Array; // [numHeads*headDim, hidden]
  k: Float32Array; // [numKvHeads*headDim, hidden]
  v: Float32Array; // [numKvHeads*headDim, hidden]
  o: Float32Array; // [hidden, numHeads*headDim]
  postNorm: Float32Array; // [hidden]
  gate: Float32Array; // [intermediate, hidden]
  up: Float32Array; // [intermediate, hidden]
  down: Float32Array; // [hidden, intermediate]
}

export interface ModelWeights {
  embed: Float32Array; // [vocab, hidden]
  layers: LayerWeights[];
  finalNorm: Float32Array; // [hidden]
  /** [vocab, hidden]; the same array as `embed` when embeddings are tied. */
  lmHead: Float32Array;
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** What the scheduler needs from a tokenizer (implemented over tokenizer.json + tokenizer_config.json). */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  /** Token ids of `text`; `addSpecialTokens` adds BOS the way tokenizer_config.json asks. */
  encode(text: string, addSpecialTokens: boolean): number[];
  decode(ids: readonly number[], skipSpecialTokens: boolean): string;
  /** Renders the chat template of tokenizer_config.json (a default template when it has none). */
  applyChatTemplate(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string;
  isSpecial(id: number): boolean;
}
