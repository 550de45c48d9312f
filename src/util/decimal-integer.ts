/**
 * An integer written in plain decimal digits, as flags and settings take them: no sign, space,
 * fraction or exponent ("1e3" and " 2" are not integers here), and within [min, max] (both safe
 * integers). Lives at the bottom layer so that a backend's own flags (src/transfer) and the CLI's
 * parse integers one way.
 */
const DIGITS = /^\d+$/;

/** The value of `raw`, or null when it is not such an integer or lies outside [min, max]. */
export function decimalIntegerIn(raw: string, min: number, max: number): number | null {
  const value = DIGITS.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : null;
}
