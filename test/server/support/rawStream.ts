import { get, type IncomingHttpHeaders, type ClientRequest } from 'node:http';
import { waitFor } from '../../helpers/waitFor';

/** One block of an event stream, up to the blank line that ends it. */
export interface SseBlock {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  /** Comment lines without the leading colon and the one space after it. */
  comments: string[];
}

/**
 * Parses the complete blocks of an event stream, those followed by a blank line. It follows the
 * event-stream grammar of the HTML standard: lines end with CRLF, LF or CR, a leading colon marks
 * a comment, and one space after a field's colon is dropped.
 */
export function parseBlocks(text: string): SseBlock[] {
  const lastBlank = Math.max(text.lastIndexOf('\n\n'), text.lastIndexOf('\r\n\r\n'));
  if (lastBlank === -1) {
    return [];
  }

  const blocks: SseBlock[] = [];
  let current: SseBlock = { comments: [] };
  let hasContent = false;
  for (const line of text.slice(0, lastBlank).split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (hasContent) {
        blocks.push(current);
      }
      current = { comments: [] };
      hasContent = false;
      continue;
    }

    hasContent = true;
    if (line.startsWith(':')) {
      current.comments.push(line.slice(1).replace(/^ /, ''));
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') {
      current.data = current.data === undefined ? value : `${current.data}\n${value}`;
    } else if (field === 'id' || field === 'event' || field === 'retry') {
      current[field] = value;
    }
  }
  if (hasContent) {
    blocks.push(current);
  }
  return blocks;
}

/**
 * An event stream read with Node's HTTP client, which exposes the raw bytes and headers that
 * an EventSource hides. Each stream uses its own connection.
 */
export class RawStream {
  /** Everything received so far, decoded as UTF-8. */
  text = '';
  ended = false;

  private constructor(
    private readonly request: ClientRequest,
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
  ) {}

  /** Sends `GET url` with `Accept: text/event-stream` and resolves once the headers arrive. */
  static open(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
    return new Promise((resolve, reject) => {
      const request = get(
        url,
        { agent: false, headers: { Accept: 'text/event-stream', ...headers } },
        (response) => {
          const stream = new RawStream(request, response.statusCode ?? 0, response.headers);
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            stream.text += chunk;
          });
          response.on('end', () => {
            stream.ended = true;
          });
          response.on('close', () => {
            stream.ended = true;
          });
          response.on('error', () => {
            stream.ended = true;
          });
          resolve(stream);
        },
      );
      request.on('error', reject);
    });
  }

  /** Complete blocks received so far. */
  blocks(): SseBlock[] {
    return parseBlocks(this.text);
  }

  /** Blocks of `status` events received so far, with their data parsed as JSON. */
  statusEvents(): { id: string; job: Record<string, unknown> }[] {
    return this.blocks()
      .filter((block) => block.event === 'status')
      .map((block) => ({
        id: block.id ?? '',
        job: JSON.parse(block.data ?? 'null') as Record<string, unknown>,
      }));
  }

  /** Waits until at least `count` status events have arrived and returns all of them. */
  async waitForStatusEvents(
    count: number,
    description: string,
  ): Promise<{ id: string; job: Record<string, unknown> }[]> {
    return waitFor(`${count} status events (${description})`, () => {
      const events = this.statusEvents();
      return events.length >= count ? events : undefined;
    });
  }

  /** Waits until the received text contains `needle` at or after `fromIndex`. */
  async waitForText(needle: string, fromIndex = 0): Promise<void> {
    await waitFor(`stream text containing ${JSON.stringify(needle)}`, () =>
      this.text.includes(needle, fromIndex),
    );
  }

  /** Waits until the server ends the response or the connection closes. */
  async waitForEnd(): Promise<void> {
    await waitFor('the stream to end', () => this.ended);
  }

  /** Aborts the request and closes its connection. */
  close(): void {
    this.request.destroy();
  }
}
