/** Exponential backoff with full jitter (AWS's "full jitter"), and Retry-After parsing. */

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** A delay in [0, min(cap, base * 2^attempt)); attempt counts from 0. */
export function fullJitter(attempt: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unusable. Capped at `capMs`. */
export function retryAfterMs(value: string | undefined, capMs: number, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const t = Date.parse(v);
    if (Number.isNaN(t)) return undefined;
    ms = t - now;
  }
  return Math.min(capMs, Math.max(0, ms));
}
