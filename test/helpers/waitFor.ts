/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Time in ms after which waitFor rejects. Default 5000. */
  timeoutMs?: number;
  /** Time in ms between two checks. Default 5. */
  intervalMs?: number;
}

/**
 * Checks `condition` until it returns a value other than `undefined`, `null` or `false`, and
 * resolves with that value. Rejects after `timeoutMs` with an Error that names `description`
 * and, if `condition` threw on its last check, that error's message.
 */
export async function waitFor<T>(
  description: string,
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 5;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;

  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) {
        return value;
      }
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }

    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last check threw: ${lastError.message})` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Resolves or rejects like `promise`, but rejects after `timeoutMs` with an Error that names
 * `description`. The timer is cleared as soon as `promise` settles.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  description: string,
  timeoutMs = 5000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
