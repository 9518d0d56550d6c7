/**
 * `npm run bench`: runs every scenario against the mock server in a child process on 127.0.0.1,
 * prints the results, and writes BENCHMARKS.md and bench/latency.svg.
 *
 * Options: `--runs N` (runs per figure, default 3), `--only a,b` (scenarios by name: freshness,
 * cost, scale, fallback, bundle), `--no-write` (print only). Partial runs never write the files.
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

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) {
    throw new Error(`Invalid --runs ${values.runs}: pass an integer from 1 to 20`);
  }
  const only = new Set<Scenario>();
  for (const name of values.only?.split(',') ?? SCENARIOS) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`Unknown scenario "${name}" in --only: pass some of ${SCENARIOS.join(', ')}`);
    }
    only.add(name as Scenario);
  }
  const complete = only.size === SCENARIOS.length;
  return { runs, only, write: complete && !values['no-write'] };
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

async function main(): Promise<void> {
  const options = parseOptions();
  if (globalThis.gc === undefined) {
    throw new Error(
      'Run the bench with node --expose-gc (npm run bench does), to measure heap after GC',
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
    throw new Error(
      `Scenario ${failed.join(', ')} failed (see above), so BENCHMARKS.md and bench/latency.svg were left unchanged`,
    );
  }
  if (!options.write) {
    console.log(
      'BENCHMARKS.md and bench/latency.svg were left unchanged (partial run or --no-write).',
    );
    return;
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
  // Formatted as `npm run lint` checks it, so a fresh BENCHMARKS.md never fails `prettier --check`.
  const target = join(ROOT, 'BENCHMARKS.md');
  const prettierOptions = (await resolveConfig(target)) ?? {};
  writeFileSync(target, await format(markdown, { ...prettierOptions, filepath: target }));
  console.log(`Wrote BENCHMARKS.md and ${chartFile}`);
}

// The exit also ends whatever a failed scenario left running, such as a baseline's poll timers.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
