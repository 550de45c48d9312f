/**
 * SGLang's `--context-length`: the longest sequence (prompt + output) a node accepts. It may lower
 * the model's own (config.json `max_position_embeddings`, or a synthetic shape's), never raise it:
 * positions past it were never trained (SGLang refuses too, unless an environment variable
 * overrides; pd-node has no override).
 */
export function contextLengthOf(modelContextLength: number, flag: number | null): number {
  if (flag === null) return modelContextLength;
  if (flag > modelContextLength) throw new Error(`--context-length ${flag} is above the model's context length ${modelContextLength}: it can only be lowered`);
  return flag;
}
