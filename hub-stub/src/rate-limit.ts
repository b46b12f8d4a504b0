/** Per-agent token buckets (Scion: 1 request/s, burst 10, shared by both GCP endpoints). */

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  private readonly lastDenialNoted = new Map<string, number>();

  /** True at most once per `windowMs` per key: a flooding client must not flood the audit log. */
  noteDenial(key: string, windowMs = 10_000): boolean {
    const t = this.now();
    const last = this.lastDenialNoted.get(key);
    if (last !== undefined && t - last < windowMs) return false;
    this.lastDenialNoted.set(key, t);
    return true;
  }

  /** Forgets buckets that have been full for a while. */
  prune(idleMs = 30 * 60_000): void {
    const t = this.now();
    for (const [k, b] of this.buckets) if (t - b.at > idleMs) this.buckets.delete(k);
    for (const [k, at] of this.lastDenialNoted) if (t - at > idleMs) this.lastDenialNoted.delete(k);
  }
}
