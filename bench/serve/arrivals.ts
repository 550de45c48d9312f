/**
 * When each request of a run is sent, as offsets from the run's start. A Poisson process of rate R
 * requests per second has exponential gaps of mean 1/R, drawn here from a seeded stream so that two
 * runs with one seed (PD, then colocated) see the same arrival times. The first request goes at 0,
 * as in SGLang's bench_serving. An infinite rate sends everything at once (offsets all 0); a
 * --max-concurrency limit then decides the pace.
 */
import { Prng } from '../../src/random/prng.js';

export function arrivalOffsetsMs(count: number, requestsPerSecond: number, seed: number): Float64Array {
  const offsets = new Float64Array(count);
  if (!Number.isFinite(requestsPerSecond)) return offsets;
  const rng = new Prng(seed, 'pd-bench-arrivals');
  const meanGapMs = 1000 / requestsPerSecond;
  for (let i = 1; i < count; i++) offsets[i] = offsets[i - 1] - Math.log(1 - rng.nextFloat()) * meanGapMs;
  return offsets;
}
