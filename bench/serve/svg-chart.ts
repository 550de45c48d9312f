/**
 * Line charts as inline SVG text, for the HTML report (no library, no script: the file must open
 * offline). One chart: a title, axes with round-number ticks (linear, or powers of ten on a log
 * x axis for latencies spanning decades), one polyline per series and a legend. Series are drawn
 * as given; callers thin long series first (`thinned`) so a report stays a few hundred KB.
 * No xmlns attribute: inline SVG in HTML does not need one, and the report holds no URL at all.
 */
export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** Dashed line (e.g. waiting requests beside running ones). */
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  logX?: boolean;
}

const W = 640;
const H = 350;
const M = { left: 64, right: 16, top: 32, bottom: 80 };

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round ticks (1, 2 or 5 times a power of ten apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** At most `max` points, evenly spaced by index, always keeping the first and the last. */
export function thinned<T>(points: readonly T[], max = 400): T[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, i) => points[Math.round((i * (points.length - 1)) / (max - 1))]);
}

function label(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(3)));
}

export function lineChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const parts: string[] = [`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(spec.title)}">`, `<text x="${W / 2}" y="20" text-anchor="middle" class="title">${escapeXml(spec.title)}</text>`];
  if (all.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`);
    return parts.join('');
  }
  const xs = all.map((p) => p[0]).filter((x) => !spec.logX || x > 0);
  if (xs.length === 0) xs.push(1);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(0, ...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (y1 <= y0) y1 = y0 + 1;
  let xTicks: number[];
  if (spec.logX) {
    x0 = 10 ** Math.floor(Math.log10(x0));
    x1 = 10 ** Math.ceil(Math.log10(x1));
    if (x1 <= x0) x1 = x0 * 10;
    xTicks = [];
    for (let t = x0; t <= x1 * 1.0001; t *= 10) xTicks.push(t);
  } else {
    if (x1 <= x0) x1 = x0 + 1;
    xTicks = niceTicks(x0, x1);
  }
  const yTicks = niceTicks(y0, y1);
  y1 = Math.max(y1, yTicks[yTicks.length - 1]);
  const sx = (x: number): number => M.left + (spec.logX ? (Math.log10(Math.max(x, x0)) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number): number => M.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number): string => v.toFixed(1);
  for (const t of yTicks) parts.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${f(sy(t))}" y2="${f(sy(t))}" class="grid"/><text x="${M.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  for (const t of xTicks) parts.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${M.top}" y2="${M.top + plotH}" class="grid"/><text x="${f(sx(t))}" y="${M.top + plotH + 16}" text-anchor="middle">${label(t)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" class="frame"/>`);
  parts.push(`<text x="${M.left + plotW / 2}" y="${M.top + plotH + 34}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  for (const s of spec.series) {
    const pts = s.points.map((p) => `${f(sx(p[0]))},${f(sy(p[1]))}`);
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''} points="${pts.join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`);
  }
  spec.series.forEach((s, i) => {
    const rows = Math.ceil(spec.series.length / 4);
    const x = M.left + (i % 4) * 150;
    const y = H - 6 - (rows - 1 - Math.floor(i / 4)) * 14;
    parts.push(`<line x1="${x}" x2="${x + 18}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${x + 24}" y="${y}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
