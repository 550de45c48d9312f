/**
 * `pd-node gen-model --out DIR [--preset tiny|small] [--seed N] [--dtype ...]`: writes a random-weight
 * Hugging Face model directory (nothing is downloaded) and prints its path.
 */
import type { Argv } from 'yargs';
import { PRESET_NAMES, type PresetName } from '../model/presets.js';
import { integerIn, nonEmpty, oneOf, rawFlag } from './flag-values.js';

const DTYPES = ['float32', 'float16', 'bfloat16'] as const;

export interface GenModelFlags {
  outDir: string;
  preset: PresetName;
  seed: number;
  dtype?: (typeof DTYPES)[number];
}

export function addGenModelFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('out', { type: 'string', requiresArg: true, demandOption: true, describe: 'Directory to write (must not exist, or be empty).' })
    .option('preset', { type: 'string', requiresArg: true, describe: `Model shape (${PRESET_NAMES.join(', ')}); small is SmolLM2-135M-shaped.`, defaultDescription: 'tiny' })
    .option('seed', { type: 'string', requiresArg: true, describe: 'Weight seed, an integer in [0, 2^32); the same seed writes the same bytes.', defaultDescription: '0' })
    .option('dtype', { type: 'string', requiresArg: true, describe: `Weight dtype on disk (${DTYPES.join(', ')}).`, defaultDescription: "the preset's: float32 for tiny, bfloat16 for small" }) as Argv<T>;
}

export function genModelFlagsFrom(argv: Record<string, unknown>): GenModelFlags {
  const preset = rawFlag(argv, 'preset');
  const seed = rawFlag(argv, 'seed');
  const dtype = rawFlag(argv, 'dtype');
  return {
    outDir: nonEmpty('--out', rawFlag(argv, 'out') ?? ''),
    preset: preset === undefined ? 'tiny' : oneOf('--preset', preset, PRESET_NAMES),
    seed: seed === undefined ? 0 : integerIn('--seed', seed, 0, 0xffffffff, 'an integer in [0, 2^32)'),
    ...(dtype === undefined ? {} : { dtype: oneOf('--dtype', dtype, DTYPES) }),
  };
}

export async function runGenModel(flags: GenModelFlags): Promise<void> {
  const { genModel } = await import('../model/gen-model.js');
  const dir = await genModel(flags);
  process.stdout.write(`${dir}\n`);
}
