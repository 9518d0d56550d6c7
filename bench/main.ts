/**
 * `npm run bench`: runs every scenario against the mock server in a child process on 127.0.0.1,
 * prints the results, and writes BENCHMARKS.md and bench/latency.svg.
 *
 * Options: `--runs N` (runs per figure, default 3), `--only a,b` (scenarios by name: freshness,
 * cost, scale, fallback, bundle), `--no-write` (print only) and `--help`. Partial runs never write
 * the files. An invalid argument prints one line and exits with code 2.
 *
 * To profile the client and the server child at once:
 * `node --cpu-prof --cpu-prof-dir=/tmp/bench-profiles --expose-gc --import tsx bench/main.ts --only scale`
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { measureBundle } from './bundle';
import { measureFallback } from './fallback';
import { type FreshnessSeries, measureFreshness } from './freshness';
import { renderMarkdown } from './markdown';
import { renderConsoleTable, renderGoals, type ScenarioResult } from './report';
import { measureRequestCost } from './request-cost';
import { measureScale, type ScaleLatency } from './scale';
import { type BenchServerOptions, ServerProcess } from './server-process';
import { renderLatencyChart } from './svg';

const SCENARIOS = ['freshness', 'cost', 'scale', 'fallback', 'bundle'] as const;
type Scenario = (typeof SCENARIOS)[number];

const ROOT = join(__dirname, '..');

/**
 * Server settings for every scenario. Streams per client go up to 10,000 because the
 * EventSource-per-job baseline opens one stream per job with one client id.
 */
const SERVER_OPTIONS: BenchServerOptions = {
  limits: { maxStreamsPerClient: 10_000 },
};

interface BenchOptions {
  runs: number;
  only: Set<Scenario>;
  write: boolean;
}

/** An invalid invocation. It is printed as one line without a stack, with exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

function argumentError(message: string): UsageError {
  return new UsageError(`${message}. Run npm run bench -- --help for the options`);
}

const USAGE = `Usage: npm run bench -- [options]

Runs the benchmark scenarios against the mock server, which runs in a child process on
127.0.0.1, and prints their tables. A complete run, with every scenario and without --no-write,
writes the results to BENCHMARKS.md and the latency chart to bench/latency.svg.

Options:
  --runs N     runs per figure, an integer from 1 to 20 (default 3)
  --only a,b   run only the named scenarios, comma-separated. A partial run writes no files.
               Scenarios: ${SCENARIOS.join(', ')}
  --no-write   print the results only, and leave BENCHMARKS.md and bench/latency.svg unchanged
  -h, --help   print this help and exit

A complete run with the default 3 runs takes about 4 minutes on 2 cores (231 s on a 2-core
AMD EPYC), and most scenarios repeat per run, so more runs take longer. BENCHMARKS.md records
the machine and the total time of the last complete run.`;

const OPTION_TYPES: Readonly<Record<string, 'string' | 'boolean'>> = {
  runs: 'string',
  only: 'string',
  'no-write': 'boolean',
  help: 'boolean',
};

/**
 * Parses the command line. Returns `'help'` when it contains `--help` or `-h`, whatever else it
 * contains. Throws a UsageError for an unknown option, a missing or unexpected value, or an
 * argument that is not an option.
 */
function parseOptions(args: string[]): BenchOptions | 'help' {
  // Non-strict parsing returns every token, so that the errors below can name the bad one in
  // place of the exceptions that strict parsing throws.
  const { tokens } = parseArgs({
    args,
    options: {
      runs: { type: 'string' },
      only: { type: 'string' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) {
    return 'help';
  }

  const values = new Map<string, string | true>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      throw argumentError(
        `Unexpected argument ${JSON.stringify(token.value)}: the bench takes only options`,
      );
    }
    if (token.kind !== 'option') {
      continue;
    }

    const type = OPTION_TYPES[token.name];
    if (type === undefined) {
      throw argumentError(`Unknown option ${token.rawName}`);
    }
    if (type === 'boolean') {
      if (token.value !== undefined) {
        throw argumentError(`Option ${token.rawName} takes no value`);
      }
      values.set(token.name, true);
      continue;
    }
    // Without an inline value, the parser takes the next argument, even another option.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
      throw argumentError(`Missing value for ${token.rawName}`);
    }
    values.set(token.name, token.value);
  }

  const rawRuns = String(values.get('runs') ?? '3');
  const runs = /^\d{1,2}$/.test(rawRuns) ? Number(rawRuns) : Number.NaN;
  if (!(runs >= 1 && runs <= 20)) {
    throw argumentError(
      `Invalid --runs ${JSON.stringify(rawRuns)}: expected an integer from 1 to 20`,
    );
  }

  const rawOnly = values.get('only');
  const names = rawOnly === undefined ? SCENARIOS : String(rawOnly).split(',');
  const only = new Set<Scenario>();
  for (const name of names.map((entry) => entry.trim())) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw argumentError(
        `Unknown scenario ${JSON.stringify(name)} in --only: expected some of ${SCENARIOS.join(', ')}`,
      );
    }
    only.add(name as Scenario);
  }

  const complete = only.size === SCENARIOS.length;
  return { runs, only, write: complete && !values.has('no-write') };
}

/** Starts a fresh server child for one scenario, and stops it afterwards. */
async function withServer<T>(action: (server: ServerProcess) => Promise<T>): Promise<T> {
  const server = await ServerProcess.start(SERVER_OPTIONS);
  try {
    return await action(server);
  } finally {
    await server.stop();
  }
}

function failedResult(name: Scenario, error: unknown): ScenarioResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    title: `${name} (failed)`,
    method: [],
    tables: [],
    goals: [{ description: `Scenario ${name} completes`, measured: message, met: false }],
  };
}

function printResult(result: ScenarioResult, elapsedMs: number): void {
  console.log(`\n=== ${result.title} (${(elapsedMs / 1000).toFixed(1)} s)`);
  for (const table of result.tables) console.log(`\n${renderConsoleTable(table)}`);
  if (result.goals.length > 0) console.log(`\n${renderConsoleTable(renderGoals(result.goals))}`);
}

/** Runs the bench and returns the exit code. */
async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (globalThis.gc === undefined) {
    throw new UsageError(
      'Missing --expose-gc: the bench measures the heap after GC, so run it with ' +
        'npm run bench or node --expose-gc --import tsx bench/main.ts',
    );
  }
  const startedAt = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const results: ScenarioResult[] = [];
  let freshness: FreshnessSeries[] = [];
  let scaleLatency: ScaleLatency | undefined;

  const failed: Scenario[] = [];
  const run = async (name: Scenario, measure: () => Promise<ScenarioResult>): Promise<void> => {
    if (!options.only.has(name)) return;
    const scenarioStart = Date.now();
    let result: ScenarioResult;
    try {
      result = await measure();
    } catch (error) {
      // One broken scenario should not hide the figures of the others.
      console.error(`Scenario ${name} failed:`, error);
      failed.push(name);
      result = failedResult(name, error);
    }
    results.push(result);
    printResult(result, Date.now() - scenarioStart);
  };

  await run('freshness', () =>
    withServer(async (server) => {
      const measured = await measureFreshness(server, {
        runs: options.runs,
        jobCounts: [1, 100, 1000],
      });
      freshness = measured.series;
      return measured.result;
    }),
  );
  await run('cost', () =>
    withServer((server) =>
      measureRequestCost(server, { runs: options.runs, jobCounts: [1, 10, 100, 1000] }),
    ),
  );
  await run('scale', async () => {
    const measured = await measureScale(() => ServerProcess.start(SERVER_OPTIONS), {
      runs: options.runs,
    });
    scaleLatency = measured.latency;
    return measured.result;
  });
  await run('fallback', () => withServer((server) => measureFallback(server, { cuts: 20 })));
  await run('bundle', () => measureBundle(ROOT));

  const elapsedMs = Date.now() - startedAt;
  const goals = results.flatMap((result) => result.goals);
  console.log(`\n=== All goals\n\n${renderConsoleTable(renderGoals(goals))}`);
  console.log(`\nTotal time ${(elapsedMs / 1000).toFixed(1)} s`);

  if (failed.length > 0) {
    console.error(
      `Scenario ${failed.join(', ')} failed (see above), so BENCHMARKS.md and bench/latency.svg were left unchanged`,
    );
    return 1;
  }
  if (!options.write) {
    console.log(
      'BENCHMARKS.md and bench/latency.svg were left unchanged (partial run or --no-write).',
    );
    return 0;
  }
  const chartFile = 'bench/latency.svg';
  writeFileSync(join(ROOT, chartFile), renderLatencyChart(freshness, scaleLatency));
  const markdown = renderMarkdown({
    results,
    chartFile,
    runs: options.runs,
    elapsedMs,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    loadAverage: { start: loadAtStart, end: loadavg()[0] ?? 0 },
  });
  // Formatted with the project's Prettier settings, the ones `npm run lint` checks it against.
  const target = join(ROOT, 'BENCHMARKS.md');
  const prettierOptions = (await resolveConfig(target)) ?? {};
  writeFileSync(target, await format(markdown, { ...prettierOptions, filepath: target }));
  console.log(`Wrote BENCHMARKS.md and ${chartFile}`);
  return 0;
}

// The exit also ends whatever a failed scenario left running, such as a baseline's poll timers.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(error.message);
      process.exit(2);
    }
    console.error(error);
    process.exit(1);
  },
);
