import type { Spread } from './stats';

/** A table of one scenario's results, printed to the console and written to BENCHMARKS.md. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly notes?: readonly string[];
}

/** One performance goal, with the measured value that decides it. */
export interface Goal {
  readonly description: string;
  readonly measured: string;
  readonly met: boolean;
}

/** Result of one scenario: how it measures, its tables and its goals. */
export interface ScenarioResult {
  readonly title: string;
  /** Sentences on how the figures are measured, for BENCHMARKS.md. */
  readonly method: readonly string[];
  readonly tables: readonly Table[];
  readonly goals: readonly Goal[];
}

/** Formats a duration in ms with three significant digits at most, and at most two decimals. */
export function formatMs(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (Math.abs(value) < 10) return value.toFixed(2);
  if (Math.abs(value) < 100) return value.toFixed(1);
  return value.toFixed(0);
}

/** Formats a count or a size with thousands separators, rounding to `decimals`. */
export function formatNumber(value: number, decimals = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) < 1024) return `${bytes.toFixed(0)} B`;
  if (Math.abs(bytes) < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (Math.abs(bytes) < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** Formats a figure over several runs as `median (min–max)`, or the value alone for one run. */
export function formatSpread(value: Spread, format: (value: number) => string = formatMs): string {
  if (value.runs.length === 1 || value.min === value.max) return format(value.median);
  return `${format(value.median)} (${format(value.min)}–${format(value.max)})`;
}

/** Renders a table with aligned columns for the console. */
export function renderConsoleTable(table: Table): string {
  const widths = table.columns.map((column, index) =>
    Math.max(column.length, ...table.rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, index) => cell.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  const lines = [
    table.title,
    line(table.columns),
    line(widths.map((width) => '-'.repeat(width))),
    ...table.rows.map(line),
    ...(table.notes ?? []).map((note) => `  ${note}`),
  ];
  return lines.join('\n');
}

export function renderMarkdownTable(table: Table): string {
  const escape = (cell: string): string => cell.replaceAll('|', '\\|');
  const lines = [
    `| ${table.columns.map(escape).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ];
  return lines.join('\n');
}

export function renderGoals(goals: readonly Goal[]): Table {
  return {
    title: 'Goals',
    columns: ['goal', 'measured', 'result'],
    rows: goals.map((goal) => [goal.description, goal.measured, goal.met ? 'met' : 'MISSED']),
  };
}
