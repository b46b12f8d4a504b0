/** Durations in hub-stub's API and flags: whole seconds, or a number with s, m, h or d. */
const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, or undefined when `v` is not a duration. */
export function toSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNIT[m[2] ?? 's'] as number);
}
