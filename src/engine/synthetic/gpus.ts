/**
 * GPUs the synthetic engine can model (`--gpu`): peak dense bf16 FLOP/s and HBM bandwidth, the two
 * numbers a roofline needs. Figures are the vendors' data-sheet values for the SXM/OAM parts
 * (dense, without the 2:4 sparsity doubling).
 *
 * `--gpu 8xh100` models eight of them as one ideal tensor-parallel group: FLOP/s and bandwidth
 * scale by the count, communication is free. That is optimistic, but it lets shapes too large for
 * one GPU (70B, DeepSeek-V3) run at plausible speeds. `--tp N` (SGLang's tensor parallelism) means
 * the same group: with a bare NAME it models N of them; with COUNTxNAME the two must agree.
 */
export interface GpuSpec {
  /** As given: `h100`, `8xh100`. */
  readonly name: string;
  readonly count: number;
  /** Dense bf16 FLOP/s of the whole group. */
  readonly peakFlops: number;
  /** HBM bytes/s of the whole group. */
  readonly hbmBandwidth: number;
}

const GPUS: Readonly<Record<string, { peakFlops: number; hbmBandwidth: number }>> = {
  a100: { peakFlops: 312e12, hbmBandwidth: 2.039e12 },
  h100: { peakFlops: 989e12, hbmBandwidth: 3.35e12 },
  h200: { peakFlops: 989e12, hbmBandwidth: 4.8e12 },
  b200: { peakFlops: 2.25e15, hbmBandwidth: 8e12 },
  l40s: { peakFlops: 362e12, hbmBandwidth: 0.864e12 },
  mi300x: { peakFlops: 1307e12, hbmBandwidth: 5.3e12 },
};

export const GPU_NAMES: readonly string[] = Object.keys(GPUS);
export const MAX_GPU_COUNT = 64;

/** `NAME` or `COUNTxNAME` (count 1..64), or null when it is neither. */
export function parseGpu(raw: string): GpuSpec | null {
  const m = /^(?:(\d{1,2})x)?([a-z0-9]+)$/.exec(raw);
  if (!m || !Object.hasOwn(GPUS, m[2])) return null;
  const count = m[1] === undefined ? 1 : Number(m[1]);
  if (count < 1 || count > MAX_GPU_COUNT) return null;
  const one = GPUS[m[2]];
  return { name: raw, count, peakFlops: one.peakFlops * count, hbmBandwidth: one.hbmBandwidth * count };
}

/**
 * The group `--gpu raw` and `--tp tp` model together: `tp` x NAME when raw is a bare NAME, raw itself
 * when tp is 1 or equals raw's COUNT; else a message naming both flags. Null raw: unknown GPU.
 */
export function gpuGroup(raw: string, tp: number): GpuSpec | string | null {
  const one = parseGpu(raw);
  if (!one || tp === 1) return one;
  const bare = !/^\d/.test(raw);
  if (!bare && one.count !== tp) return `--tp ${tp} and --gpu ${raw} disagree: --tp N models N GPUs (give --gpu ${raw.replace(/^\d+x/, '')}, or --gpu ${tp}x${raw.replace(/^\d+x/, '')})`;
  return bare ? parseGpu(`${tp}x${raw}`) : one;
}
