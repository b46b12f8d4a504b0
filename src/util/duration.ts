/** Durations as users write them in flags and env: `1500ms`, `10s`, `2m`, `1h30m`. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

export class DurationError extends Error {}

/**
 * Parses a duration into milliseconds. A bare number is refused on purpose: `10`
 * could mean seconds or milliseconds, and guessing wrong turns a grace period
 * into a SIGKILL.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const value = text.trim();
  const fail = (): never => {
    throw new DurationError(
      `invalid ${what} ${JSON.stringify(text)}: use a number with a unit (ms, s, m, h), e.g. 1500ms, 10s, 2m, 1h30m`,
    );
  };
  if (value === '') fail();
  if (value === '0') return 0;
  let total = 0;
  let consumed = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(value); m !== null; m = PART.exec(value)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  if (consumed !== value.length) fail();
  if (!Number.isFinite(total) || total > 2 ** 31 - 1) {
    throw new DurationError(`invalid ${what} ${JSON.stringify(text)}: longer than 24 days is not supported`);
  }
  return Math.round(total);
}
