/**
 * The built-in engines, one line each; the CLI (--engine and each engine's flags), NodeOptions and
 * the scheduler worker derive from this table. A new engine is a folder src/engine/<name>/ exporting
 * a descriptor (src/engine/descriptor.ts) plus one line here; an embedding application's engine
 * needs no line: `startNode({ engine: { module, config } })` (EngineChoice).
 */
import type { EngineChoice, EngineConfig, EngineDescriptor, EngineFlag } from './descriptor.js';
import { referenceEngine } from './reference/descriptor.js';
import { syntheticEngine } from './synthetic/descriptor.js';

export const ENGINES: readonly EngineDescriptor[] = [referenceEngine, syntheticEngine];

export const ENGINE_NAMES: readonly string[] = ENGINES.map((e) => e.name);

export function builtInEngine(name: string): EngineDescriptor | undefined {
  return ENGINES.find((e) => e.name === name);
}

/** The engine a choice names: a built-in one, or the default export of the embedder's module (imported here). */
export async function resolveEngine(choice: EngineChoice): Promise<EngineDescriptor> {
  if ('name' in choice) {
    const found = builtInEngine(choice.name);
    if (!found) throw new Error(`unknown engine "${choice.name}": one of ${ENGINE_NAMES.join(', ')}, or { module } for an engine of your own`);
    return found;
  }
  const mod = (await import(choice.module)) as { default?: Partial<EngineDescriptor> };
  const d = mod.default;
  if (typeof d?.name !== 'string' || !Array.isArray(d.flags) || typeof d.config !== 'function' || typeof d.load !== 'function') {
    throw new Error(`engine module ${choice.module} must export an EngineDescriptor as its default export (name, flags, config, load)`);
  }
  return d as EngineDescriptor;
}

/**
 * Checks a config against its engine (an embedder's object, or the fields the CLI parsed): every
 * field must be one of the engine's flags and pass that flag's parser (given as its text), then the
 * descriptor fills the defaults. Throws an Error naming the field's flag.
 */
export function checkEngineConfig(engine: EngineDescriptor, given: EngineConfig): EngineConfig {
  const parsed: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(given)) {
    const flag: EngineFlag | undefined = engine.flags.find((f) => f.field === field);
    if (!flag) throw new Error(`engine ${engine.name} has no setting "${field}" (it has: ${engine.flags.map((f) => f.field).join(', ') || 'none'})`);
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') throw new Error(`--${flag.name} (${field}) must be a string, number or boolean (got ${JSON.stringify(value)})`);
    parsed[field] = flag.parse(`--${flag.name}`, String(value));
  }
  return engine.config(parsed);
}
