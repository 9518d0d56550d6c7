/**
 * Hand-written SVG chart of the delivery latency distributions, in the style of HdrHistogram's
 * percentile plots. It draws one curve per transport and job count, with latency on a logarithmic
 * axis against the percentile on a "nines" axis (90%, 99%, 99.9%), so the tail gets as much room as
 * the median.
 */
import type { FreshnessSeries } from './freshness';
import type { ScaleLatency } from './scale';
import { percentile, sortAscending } from './stats';

interface Curve {
  readonly label: string;
  readonly color: string;
  readonly dashed: boolean;
  /** Samples in ms, sorted in ascending order. */
  readonly sorted: readonly number[];
}

const WIDTH = 900;
const HEIGHT = 440;
const PLOT = { left: 64, right: 560, top: 48, bottom: 380 };
const MIN_MS = 0.1;
const MAX_MS = 10_000;
/** Right end of the percentile axis, in nines: 4 is the 99.99th percentile. */
const MAX_NINES = 4;
/** Points per curve, evenly spaced along the percentile axis. */
const POINTS = 400;

/** Okabe–Ito colours, which stay distinct for the common kinds of colour blindness. */
const COLORS = ['#0072B2', '#56B4E9', '#009E73', '#CC79A7', '#E69F00', '#D55E00', '#000000'];

export function renderLatencyChart(
  freshness: readonly FreshnessSeries[],
  scale: ScaleLatency | undefined,
): string {
  const curves: Curve[] = freshness.map((series, index) => ({
    label: `${series.mode === 'SSE' ? 'SSE' : 'POLL 1 s'}, ${series.jobs} job${series.jobs === 1 ? '' : 's'}${series.burst ? ', burst' : ''}`,
    color: COLORS[index % COLORS.length] ?? '#000000',
    dashed: series.mode !== 'SSE',
    sorted: sortAscending(series.runs.flat()),
  }));
  if (scale !== undefined) {
    curves.push({
      label: `SSE, ${scale.clients} clients × ${scale.jobsPerClient} jobs`,
      color: '#7F7F7F',
      dashed: false,
      sorted: sortAscending(scale.runs.flat()),
    });
  }

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="system-ui, sans-serif" font-size="12">`,
    '<title>Delivery latency by percentile, per transport and job count</title>',
    '<desc>Time from the server changing a status to the subscriber receiving it, at each percentile, on a logarithmic time axis against a percentile axis in nines, pooled over all runs of npm run bench.</desc>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="24" font-size="15" font-weight="600">Delivery latency by percentile: status change on the server to subscriber next</text>`,
    ...axes(),
    ...curves.map(curvePath),
    ...legend(curves),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

/** Returns the x position of a percentile given as a share from 0 to 1. */
function xOf(share: number): number {
  const nines = Math.min(MAX_NINES, -Math.log10(1 - share));
  return PLOT.left + (nines / MAX_NINES) * (PLOT.right - PLOT.left);
}

function yOf(ms: number): number {
  const clamped = Math.min(MAX_MS, Math.max(MIN_MS, ms));
  const share = Math.log10(clamped / MIN_MS) / Math.log10(MAX_MS / MIN_MS);
  return PLOT.bottom - share * (PLOT.bottom - PLOT.top);
}

function axes(): string[] {
  const parts: string[] = [];
  for (let decade = MIN_MS; decade <= MAX_MS; decade *= 10) {
    const y = yOf(decade).toFixed(1);
    const label = decade < 1 ? decade.toFixed(1) : decade.toLocaleString('en-US');
    parts.push(
      `<line x1="${PLOT.left}" y1="${y}" x2="${PLOT.right}" y2="${y}" stroke="#e0e0e0"/>`,
      `<text x="${PLOT.left - 8}" y="${y}" dy="4" text-anchor="end">${label}</text>`,
    );
  }
  for (let nines = 0; nines <= MAX_NINES; nines += 1) {
    const x = xOf(1 - 10 ** -nines).toFixed(1);
    const label =
      nines === 0 ? '0%' : `${(100 - 100 * 10 ** -nines).toFixed(Math.max(0, nines - 2))}%`;
    parts.push(
      `<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${PLOT.bottom}" stroke="#e0e0e0"/>`,
      `<text x="${x}" y="${PLOT.bottom + 18}" text-anchor="middle">${label}</text>`,
    );
  }
  const median = xOf(0.5).toFixed(1);
  parts.push(
    `<line x1="${median}" y1="${PLOT.top}" x2="${median}" y2="${PLOT.bottom}" stroke="#e0e0e0" stroke-dasharray="2 3"/>`,
    `<text x="${median}" y="${PLOT.bottom + 18}" text-anchor="middle">50%</text>`,
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888888"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 40}" text-anchor="middle">percentile of delivered status changes</text>`,
    `<text transform="translate(18 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">latency, ms (logarithmic)</text>`,
  );
  return parts;
}

/**
 * Draws one curve up to the percentile 1 - 1/n for n samples, because beyond it the largest sample
 * alone decides the value.
 */
function curvePath(curve: Curve): string {
  if (curve.sorted.length === 0) return '';
  const maxNines = Math.min(MAX_NINES, Math.log10(curve.sorted.length));
  const points: string[] = [];
  for (let index = 0; index <= POINTS; index += 1) {
    const share = 1 - 10 ** (-(index / POINTS) * maxNines);
    const value = percentile(curve.sorted, share * 100);
    points.push(`${xOf(share).toFixed(1)},${yOf(value).toFixed(1)}`);
  }
  const dash = curve.dashed ? ' stroke-dasharray="6 4"' : '';
  return `<polyline points="${points.join(' ')}" fill="none" stroke="${curve.color}" stroke-width="2"${dash}/>`;
}

function legend(curves: readonly Curve[]): string[] {
  const parts: string[] = [];
  const x = PLOT.right + 40;
  curves.forEach((curve, index) => {
    const y = PLOT.top + 8 + index * 34;
    const dash = curve.dashed ? ' stroke-dasharray="6 4"' : '';
    const p99 = percentile(curve.sorted, 99);
    parts.push(
      `<line x1="${x}" y1="${y}" x2="${x + 28}" y2="${y}" stroke="${curve.color}" stroke-width="2"${dash}/>`,
      `<text x="${x + 36}" y="${y}" dy="4">${escapeXml(curve.label)}</text>`,
      `<text x="${x + 36}" y="${y + 15}" dy="4" fill="#666666">all runs: p99 ${formatLegendMs(p99)} ms, n = ${curve.sorted.length.toLocaleString('en-US')}</text>`,
    );
  });
  return parts;
}

function formatLegendMs(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value < 10 ? value.toFixed(1) : value.toFixed(0);
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
