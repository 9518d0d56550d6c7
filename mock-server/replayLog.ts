/**
 * Ring buffer of the most recent event frames of one client, for `Last-Event-ID` replay.
 * Frames carry consecutive sequence numbers, so the log stores only the frames and the
 * sequence number of the newest one. When full, appending drops the oldest frame.
 */
export class ReplayLog {
  readonly #capacity: number;
  readonly #frames: string[] = [];
  /** Index of the oldest frame in `#frames` once the buffer has wrapped around. */
  #start = 0;
  #lastSequence: number;

  /** Creates an empty log. The first appended frame gets the number `lastSequence + 1`. */
  constructor(capacity: number, lastSequence: number) {
    this.#capacity = capacity;
    this.#lastSequence = lastSequence;
  }

  /** Sequence number of the newest frame, or the initial number when nothing was appended. */
  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Appends the frame of event number `lastSequence + 1` and returns that number. */
  append(frame: string): number {
    this.#lastSequence += 1;
    if (this.#capacity === 0) {
      return this.#lastSequence;
    }

    if (this.#frames.length < this.#capacity) {
      this.#frames.push(frame);
    } else {
      this.#frames[this.#start] = frame;
      this.#start = (this.#start + 1) % this.#capacity;
    }
    return this.#lastSequence;
  }

  /**
   * Returns the frames numbered after `sequence`, oldest first, or undefined when the log no
   * longer contains all of them or `sequence` is newer than the newest frame.
   */
  framesAfter(sequence: number): string[] | undefined {
    const oldestSequence = this.#lastSequence - this.#frames.length + 1;
    if (sequence < oldestSequence - 1 || sequence > this.#lastSequence) {
      return undefined;
    }

    const count = this.#lastSequence - sequence;
    const result: string[] = [];
    for (let offset = this.#frames.length - count; offset < this.#frames.length; offset += 1) {
      result.push(this.#frames[(this.#start + offset) % this.#frames.length] as string);
    }
    return result;
  }
}
