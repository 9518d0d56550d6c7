import type { Job } from '../src';

export type Level = 'debug' | 'info' | 'warn' | 'error';

/** Origin of a log record: the demo itself, the SDK's logger, or the mock server's pino logger. */
export type Source = 'demo' | 'sdk' | 'server';

export type Fields = Readonly<Record<string, unknown>>;

/** Settings of a {@link Display}. */
export interface DisplayOptions {
  /** Draw a progress bar per job below the log lines and redraw it in place (a TTY only). */
  readonly live: boolean;
  /** Print `debug` records too. */
  readonly verbose: boolean;
  /** Color levels and statuses with ANSI escape codes. */
  readonly color: boolean;
}

/** Output stream of a {@link Display}. A TTY also has `columns`. */
export interface DisplayOutput {
  write(text: string): unknown;
  readonly columns?: number;
}

interface JobRow {
  readonly label: string;
  readonly id: string;
  readonly createdAtMs: number;
  job: Job;
  finishedAtMs: number | undefined;
}

const BAR_WIDTH = 24;
const REDRAW_INTERVAL_MS = 200;
const ESC = '\u001b[';

const LEVEL_COLORS: Record<Level, string> = { debug: '90', info: '36', warn: '33', error: '31' };
const STATUS_COLORS: Record<string, string> = {
  pending: '90',
  processing: '36',
  completed: '32',
  failed: '31',
};

/**
 * Terminal output of the demo: one timestamped log line per event and, on a TTY, a live block with
 * the active transport and one progress bar per job below the log lines.
 *
 * The block is redrawn in place. Each write moves the cursor up to the block's first line, erases
 * to the end of the screen, and prints the new log lines and then the block, so log lines stay
 * above it.
 */
export class Display {
  /** Creation time of the display, which the elapsed-time column counts from. */
  readonly startedAt = Date.now();
  private readonly rows: JobRow[] = [];
  private transport: string | undefined;
  private note: string | undefined;
  /** Lines of the live block on screen right now. */
  private blockLines = 0;
  private redrawTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  private detached = false;

  constructor(
    private readonly output: DisplayOutput,
    private readonly options: DisplayOptions,
  ) {
    if (options.live) {
      // Redraws keep the elapsed times moving between events. unref lets the process exit while the
      // timer is still set.
      this.redrawTimer = setInterval(() => this.write(''), REDRAW_INTERVAL_MS);
      this.redrawTimer.unref();
    }
  }

  /** Milliseconds since {@link Display.startedAt}. */
  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  /** Prints one log line, or nothing for a `debug` record without `verbose`. */
  log(source: Source, level: Level, message: string, fields: Fields = {}): void {
    if (level === 'debug' && !this.options.verbose) return;
    const levelText = level.toUpperCase().padEnd(5);
    const line = [
      formatClock(new Date()),
      formatElapsed(this.elapsedMs()).padStart(8),
      this.paint(levelText, LEVEL_COLORS[level]),
      source.padEnd(6),
      message + formatFields(fields),
    ].join(' ');
    this.write(`${line}\n`);
  }

  /** Prints lines as they are, such as the summary. */
  print(lines: readonly string[]): void {
    this.write(lines.map((line) => `${line}\n`).join(''));
  }

  /** Adds a progress bar for a job that was just created. */
  addJob(label: string, job: Job): void {
    this.rows.push({
      label,
      id: job.id,
      createdAtMs: this.elapsedMs(),
      job,
      finishedAtMs: undefined,
    });
    this.write('');
  }

  /** Updates the progress bar of a job with its latest state. */
  updateJob(label: string, job: Job): void {
    const row = this.rows.find((candidate) => candidate.label === label);
    if (row === undefined) return;
    row.job = job;
    if (job.status === 'completed' || job.status === 'failed') {
      row.finishedAtMs ??= this.elapsedMs();
    }
    this.write('');
  }

  /** Sets the active transport shown above the progress bars. */
  setTransport(transport: string): void {
    this.transport = transport;
    this.write('');
  }

  /** Sets the note next to the transport, such as an outage, or clears it with `undefined`. */
  setNote(note: string | undefined): void {
    this.note = note;
    this.write('');
  }

  /** Drops all later output, for when the output stream has closed, such as a pipe into `head`. */
  detach(): void {
    this.detached = true;
    clearInterval(this.redrawTimer);
  }

  /** Stops redrawing. The last block stays on screen, and later output goes below it. */
  close(): void {
    if (this.closed) return;
    this.write('');
    this.closed = true;
    clearInterval(this.redrawTimer);
    this.blockLines = 0;
  }

  private write(text: string): void {
    if (this.detached) return;
    if (!this.options.live || this.closed) {
      if (text !== '') this.output.write(text);
      return;
    }
    const erase = this.blockLines > 0 ? `${ESC}${this.blockLines}F${ESC}J` : '';
    const block = this.renderBlock();
    this.blockLines = block.length;
    this.output.write(erase + text + block.map((line) => `${line}\n`).join(''));
  }

  private renderBlock(): string[] {
    if (this.transport === undefined && this.rows.length === 0) return [];
    // Lines are cut to the terminal width, because a wrapped line would break the cursor movement.
    // NOTE: a terminal made narrower while the demo runs can still wrap the lines drawn before.
    // A pseudo-terminal without a size reports 0 columns.
    const columns = this.output.columns ?? 0;
    const width = columns > 0 ? columns - 1 : 79;
    const header = [
      `transport ${this.transport ?? '-'}`,
      `elapsed ${formatElapsed(this.elapsedMs())}`,
      ...(this.note === undefined ? [] : [this.note]),
    ].join('   ');
    return [this.fit(header, header, width), ...this.rows.map((row) => this.renderRow(row, width))];
  }

  private renderRow(row: JobRow, width: number): string {
    const { progress, status } = row.job;
    const filled = Math.round((progress / 100) * BAR_WIDTH);
    const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
    const durationMs = (row.finishedAtMs ?? this.elapsedMs()) - row.createdAtMs;
    const head = `${row.label}  ${row.id.slice(0, 8)}  ${bar} ${String(progress).padStart(3)}%  `;
    const tail = `  ${formatDuration(durationMs).padStart(8)}`;
    const plain = head + status.padEnd(10) + tail;
    const colored = head + this.paint(status.padEnd(10), STATUS_COLORS[status] ?? '0') + tail;
    return this.fit(plain, colored, width);
  }

  /** Returns `colored` when `plain` fits in `width`, else `plain` cut to the width. */
  private fit(plain: string, colored: string, width: number): string {
    return plain.length <= width ? colored : plain.slice(0, width);
  }

  private paint(text: string, color: string | undefined): string {
    return this.options.color && color !== undefined ? `${ESC}${color}m${text}${ESC}0m` : text;
  }
}

/** Formats elapsed milliseconds as seconds, such as `+1.234s`. */
export function formatElapsed(ms: number): string {
  return `+${(ms / 1000).toFixed(3)}s`;
}

/** Formats a duration in milliseconds as seconds, such as `3.012 s`. */
export function formatDuration(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

function formatClock(date: Date): string {
  const pad = (value: number, length = 2): string => String(value).padStart(length, '0');
  const time = [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => pad(part));
  return `${time.join(':')}.${pad(date.getMilliseconds(), 3)}`;
}

/** Formats fields as ` key=value` pairs. Strings with spaces, quotes or `=` are JSON-quoted. */
export function formatFields(fields: Fields): string {
  let text = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    text += ` ${key}=${formatValue(value)}`;
  }
  return text;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return /^[\w.:/@%+,-]+$/.test(value) ? value : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);

  // pino serializes errors as { type, message, stack }. The stack adds nothing to a demo line.
  const serialized = value as { type?: unknown; message?: unknown };
  if (typeof serialized.type === 'string' && typeof serialized.message === 'string') {
    return JSON.stringify(`${serialized.type}: ${serialized.message}`);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[not serializable]';
  }
}
