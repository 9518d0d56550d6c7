import { parseArgs } from 'node:util';

/** Accepted values of the JOB_TIME environment variable, in ms. */
export const JOB_TIME_MS = { min: 1000, max: 60_000, default: 3000 } as const;

/** Number of jobs the scenario creates. */
export const JOB_COUNT = 5;

/** The job whose creation triggers the SSE outage, counted from 1. */
export const FAULT_AT_JOB = 3;

/** An invalid command-line argument or environment variable. main prints the message and a hint. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Settings of one demo run, from the command line and the environment. */
export interface DemoOptions {
  /** Base URL of an external mock server, or `undefined` to start one in-process. */
  readonly url: string | undefined;
  readonly help: boolean;
  /** Also show SDK debug records and one server line per request. */
  readonly verbose: boolean;
  /** Run time of each job, in ms. */
  readonly jobTimeMs: number;
}

export const USAGE = `Usage: npm start [-- [--url <base url>] [--verbose] [--help]]

Runs five jobs through the heygen-status SDK in SSE mode with fallback to polling. When the
third job is created, the demo drops and refuses the event streams of its in-process mock
server, so the client falls back to polling, and returns to SSE once streams are accepted again.

Options:
  --url <base url>  Run against an external mock server, such as one started by
                    "npm run server" (http://127.0.0.1:3000). The demo cannot inject
                    faults there, so it skips the SSE outage.
  --verbose, -v     Also print SDK debug records and one server line per request.
  --help, -h        Print this help and exit.

Environment:
  JOB_TIME          Run time of each job in ms, an integer from ${JOB_TIME_MS.min}
                    to ${JOB_TIME_MS.max} (default ${JOB_TIME_MS.default}). Every delay of the
                    scenario scales with it. With --url, each job requests this run time.

Exit status:
  0    Every job completed and, with the in-process server, the client went from
       SSE to POLL and back to SSE.
  1    Otherwise. The summary lists the reasons.
  2    Invalid arguments or JOB_TIME.
  130  Interrupted with Ctrl-C.`;

/**
 * Parses the command-line arguments (without `node` and the script) and the environment.
 * @throws UsageError naming the invalid argument or variable.
 */
export function parseDemoOptions(args: readonly string[], env: NodeJS.ProcessEnv): DemoOptions {
  let values: { url?: string; help?: boolean; verbose?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        url: { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node:util reports unknown options, unexpected positionals and a missing --url value
    // with codes that start with ERR_PARSE_ARGS. Any other error is a bug and propagates.
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      throw new UsageError(`Invalid arguments: ${(error as Error).message}`);
    }
    throw error;
  }

  return {
    url: values.url === undefined ? undefined : parseBaseUrl(values.url),
    help: values.help === true,
    verbose: values.verbose === true,
    jobTimeMs: parseJobTime(env.JOB_TIME),
  };
}

/** Validates the JOB_TIME value; unset or empty means the default. */
export function parseJobTime(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return JOB_TIME_MS.default;

  const rule = `expected an integer number of ms from ${JOB_TIME_MS.min} to ${JOB_TIME_MS.max}`;
  const text = raw.trim();
  if (!/^\d+$/.test(text)) {
    throw new UsageError(`Invalid JOB_TIME ${JSON.stringify(raw)}: ${rule}, such as 3000`);
  }
  const value = Number(text);
  if (value < JOB_TIME_MS.min) {
    throw new UsageError(
      `Invalid JOB_TIME ${JSON.stringify(raw)}: ${rule}. Shorter jobs leave the client ` +
        'too little time to return to SSE before the last job ends.',
    );
  }
  if (value > JOB_TIME_MS.max) {
    throw new UsageError(
      `Invalid JOB_TIME ${JSON.stringify(raw)}: ${rule}. Longer jobs make the demo last minutes.`,
    );
  }
  return value;
}

function parseBaseUrl(raw: string): string {
  const rule = 'expected an http or https base URL such as http://127.0.0.1:3000';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`Invalid --url ${JSON.stringify(raw)}: ${rule}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`Invalid --url ${JSON.stringify(raw)}: ${rule}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`Invalid --url ${JSON.stringify(raw)}: remove the query and fragment`);
  }
  return url.href.replace(/\/+$/, '');
}
