/**
 * Status and heartbeats to the Hub. Each report is bounded in time (retries with
 * backoff inside a deadline), heartbeats never pile up (one in flight at most), and
 * phase reports go out one after another, so a Hub outage costs memory for at most a
 * handful of pending reports and never blocks the child or init's shutdown.
 */
import type { Logger } from '../log.js';
import type { BackoffPolicy } from '../util/backoff.js';
import { PATHS, type StatusUpdate } from '../wire.js';
import type { HubClient } from './client.js';

export interface StatusReporterOptions {
  client: HubClient;
  agentId: string;
  heartbeatMs: number;
  backoff: BackoffPolicy;
  /** Time a single report may take, retries included. */
  reportTimeoutMs: number;
  log: Logger;
}

export class StatusReporter {
  private heartbeat: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private beatAgain = false;
  private chain: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly opts: StatusReporterOptions) {}

  /** Sends `update` after the reports before it; resolves true when the Hub took it. */
  report(update: StatusUpdate, timeoutMs = this.opts.reportTimeoutMs): Promise<boolean> {
    // Bounded queue: past a few pending reports the Hub is down; drop, do not pile up.
    if (this.pending >= 8) {
      this.opts.log.warn({ phase: update.phase }, 'status report dropped: too many reports pending');
      return Promise.resolve(false);
    }
    this.pending++;
    // The deadline runs from now, not from when the queue reaches this report.
    const deadline = Date.now() + timeoutMs;
    const run = this.chain.then(() => (Date.now() < deadline ? this.send(update, deadline) : false));
    this.chain = run.finally(() => this.pending--);
    return run;
  }

  startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => void this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * A heartbeat now. With one already on its way (perhaps carrying a token that was
   * just replaced), one more follows right after it instead of a second in parallel.
   */
  beat(): Promise<boolean> {
    if (this.heartbeatInFlight) {
      this.beatAgain = true;
      return Promise.resolve(false);
    }
    this.heartbeatInFlight = true;
    return this.send({ heartbeat: true }, Date.now() + Math.min(this.opts.reportTimeoutMs, this.opts.heartbeatMs)).finally(() => {
      this.heartbeatInFlight = false;
      if (this.beatAgain) {
        this.beatAgain = false;
        void this.beat();
      }
    });
  }

  stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async send(update: StatusUpdate, deadline: number): Promise<boolean> {
    const { client, agentId, log } = this.opts;
    try {
      await client.call('POST', PATHS.agentStatus(agentId), update, { retries: 6, backoff: this.opts.backoff, deadline });
      return true;
    } catch (err) {
      const level = update.heartbeat ? 'debug' : 'warn';
      log[level]({ phase: update.phase, heartbeat: update.heartbeat, err: (err as Error).message }, 'status report failed');
      return false;
    }
  }
}
