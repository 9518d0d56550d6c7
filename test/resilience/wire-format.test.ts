import { EventSource } from 'eventsource';
import { HeyGenStatusListenerMode, type Job, JobFailedError, MessageParseError } from '../../src';
import { finishOf, record, stateOf, useResources } from '../helpers/sdk';
import { RecordingLogger, recordErrors } from './helpers/client';
import {
  type Handler,
  makeJob,
  openStream,
  routes,
  ScenarioServer,
  writeInPieces,
} from './helpers/scenario-server';

const { SSE } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

const JOB_ID = 'job-wire';

/** Reason of the failed job: characters of two, three and four bytes in UTF-8. */
const FAILURE_REASON = 'Übersetzung fehlgeschlagen: 日本語 🎬';

const processing = makeJob(JOB_ID, 'processing', 50);
const completed = makeJob(JOB_ID, 'completed');
const failed = makeJob(JOB_ID, 'failed', 75, { error: FAILURE_REASON });

/** Formats a `status` event with the given line ending. */
function eventWith(job: Job, eventId: number, eol: string): string {
  return `id: ${eventId}${eol}event: status${eol}data: ${JSON.stringify(job)}${eol}${eol}`;
}

/** Writes each piece as its own chunk, `gapMs` apart, and keeps the stream open. */
function piecesRoute(pieces: ReadonlyArray<string | Buffer>, gapMs = 20): Handler {
  return ({ res }) => {
    openStream(res);
    let index = 0;
    const writeNext = (): void => {
      const piece = pieces[index];
      if (res.destroyed || piece === undefined) return;
      res.write(piece);
      index += 1;
      setTimeout(writeNext, gapMs);
    };
    writeNext();
  };
}

/** Splits the UTF-8 bytes of `text` inside the first character of `character`. */
function splitInside(text: string, character: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const at = bytes.indexOf(Buffer.from(character, 'utf8')) + 1;
  return [bytes.subarray(0, at), bytes.subarray(at)];
}

describe('event stream formats', () => {
  it.each([
    {
      what: 'CRLF line endings',
      stream: piecesRoute([eventWith(processing, 1, '\r\n') + eventWith(completed, 2, '\r\n')]),
    },
    {
      what: 'CR line endings',
      // NOTE: eventsource-parser 3 holds back a CR at the very end of a chunk until the next byte
      // shows whether an LF follows. The last event therefore waits for the next bytes, such as the
      // heartbeat comment sent here.
      stream: piecesRoute([
        eventWith(processing, 1, '\r') + eventWith(completed, 2, '\r'),
        ': heartbeat\r',
      ]),
    },
    {
      what: 'mixed line endings',
      stream: piecesRoute([
        `id: 1\nevent: status\r\ndata: ${JSON.stringify(processing)}\r\r` +
          `id: 2\revent: status\ndata: ${JSON.stringify(completed)}\r\n\n`,
      ]),
    },
    {
      what: 'one byte per chunk',
      stream: routes.trickle(
        'retry: 1000\n: connected\n\n' +
          eventWith(processing, 1, '\n') +
          eventWith(completed, 2, '\n'),
      ),
    },
    {
      what: 'job JSON over two data lines',
      stream: piecesRoute([
        `id: 1\nevent: status\ndata: {"id": "${JOB_ID}", "status": "processing",\n` +
          `data: "progress": 50, "createdAt": "${processing.createdAt}", "updatedAt": "${processing.updatedAt}"}\n\n` +
          eventWith(completed, 2, '\n'),
      ]),
    },
    {
      what: 'bare comments between and inside events',
      stream: piecesRoute([
        ':\n\n: first comment\n' +
          `id: 1\n:\nevent: status\n: inside an event\ndata: ${JSON.stringify(processing)}\n\n` +
          ':\n:\n\n' +
          eventWith(completed, 2, '\n'),
      ]),
    },
  ])('reads $what', async ({ stream }) => {
    const scenario = server.add('format', { jobs: [makeJob(JOB_ID, 'pending')], stream });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });

    const recording = await finishOf(record(heygen.jobStatus$(JOB_ID)), 'the job to complete');

    // The batch lookup returns only `pending`, so the later states came through the stream.
    expect(recording.error).toBeUndefined();
    expect(recording.values.map(stateOf).slice(-2)).toEqual(['processing:50', 'completed:100']);
  });

  it('reads a character split across writes', async () => {
    const text = eventWith(processing, 1, '\n') + eventWith(failed, 2, '\n');
    const pieces = splitInside(text, '日');
    // The first piece ends inside a three-byte character.
    expect(pieces[0]?.toString('utf8')).toContain('\ufffd');
    const scenario = server.add('split-utf8', {
      jobs: [makeJob(JOB_ID, 'pending')],
      stream: piecesRoute(pieces, 30),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });

    const recording = await finishOf(record(heygen.jobStatus$(JOB_ID)), 'the job to fail');

    expect(recording.error).toBeInstanceOf(JobFailedError);
    expect(recording.values.at(-1)?.error).toBe(FAILURE_REASON);
  });

  it('reads a four-byte character one byte per chunk', async () => {
    const scenario = server.add('trickle-utf8', {
      jobs: [makeJob(JOB_ID, 'pending')],
      stream: ({ res }) => {
        openStream(res);
        void writeInPieces(res, Buffer.from(eventWith(failed, 1, '\n'), 'utf8'), 1, 1);
      },
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });

    const recording = await finishOf(record(heygen.jobStatus$(JOB_ID)), 'the job to fail');

    expect(recording.values.at(-1)?.error).toBe(FAILURE_REASON);
  });
});

describe('messages that are not jobs', () => {
  it('reports each once, others continue', async () => {
    const jobA = 'job-a';
    const jobB = 'job-b';
    const unknownStatus = { ...makeJob(jobA, 'processing', 20), status: 'exploded' };
    const badMessages = [
      '{"id": "job-a", "status": ',
      JSON.stringify([makeJob(jobA, 'processing', 20)]),
      JSON.stringify(unknownStatus),
    ];
    const stream = [
      ...badMessages.map((data) => `event: status\ndata: ${data}\n\n`),
      // A repeat of a malformed message, as after a replay, is not reported again.
      `event: status\ndata: ${JSON.stringify(unknownStatus)}\n\n`,
      eventWith(makeJob(jobA, 'completed'), 7, '\n'),
      eventWith(makeJob(jobB, 'completed'), 8, '\n'),
    ];
    const scenario = server.add('not-jobs', {
      jobs: [makeJob(jobA, 'processing', 10), makeJob(jobB, 'processing', 10)],
      stream: piecesRoute([stream.join('')]),
    });
    const logger = new RecordingLogger();
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      logging: logger,
    });
    const errors = recordErrors(heygen);

    const recordings = [record(heygen.jobStatus$(jobA)), record(heygen.jobStatus$(jobB))];
    for (const recording of recordings) await finishOf(recording, 'a job to complete');

    for (const recording of recordings) {
      expect(recording.error).toBeUndefined();
      expect(recording.values.at(-1)?.status).toBe('completed');
    }
    expect(errors).toHaveLength(badMessages.length);
    for (const [index, error] of errors.entries()) {
      expect(error).toBeInstanceOf(MessageParseError);
      expect((error as MessageParseError).data).toBe(badMessages[index]);
    }
    expect(errors[0]?.message).toContain('invalid JSON');
    expect(errors[1]?.message).toContain('expected a JSON object');
    expect(errors[2]?.message).toContain('unknown status "exploded"');
    const logged = logger.at('error');
    expect(logged).toHaveLength(badMessages.length);
    expect(logged.map((entry) => entry.fields?.error)).toEqual(errors);
  });
});
