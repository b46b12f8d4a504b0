/**
 * Limits: a maximum run time (SCION_MAX_DURATION) and a trigger file that hooks
 * running as the agent user create when a turn or model-call limit is hit (they
 * cannot signal a root PID 1). SIGUSR1 is the third way in; the supervisor routes it.
 */
import { lstatSync, unlinkSync } from 'node:fs';
import type { Logger } from '../log.js';

export type LimitReason = 'max-duration' | 'sigusr1' | 'trigger-file';

export interface LimitWatchOptions {
  maxDurationMs: number | undefined;
  triggerFile: string | undefined;
  pollMs?: number;
  log: Logger;
  onLimit: (reason: LimitReason) => void;
}

export class LimitWatch {
  private timers: NodeJS.Timeout[] = [];
  private fired = false;

  constructor(private readonly opts: LimitWatchOptions) {}

  start(): void {
    const { maxDurationMs, triggerFile, log } = this.opts;
    if (triggerFile !== undefined) {
      // A trigger left over from an earlier run must not stop this one.
      try {
        if (lstatSync(triggerFile)) unlinkSync(triggerFile);
        log.info({ triggerFile }, 'removed a stale limits trigger file');
      } catch {
        // none there
      }
      const poll = setInterval(() => {
        try {
          lstatSync(triggerFile);
          this.fire('trigger-file');
        } catch {
          // not there yet
        }
      }, this.opts.pollMs ?? 1000);
      poll.unref();
      this.timers.push(poll);
    }
    if (maxDurationMs !== undefined) {
      const t = setTimeout(() => this.fire('max-duration'), maxDurationMs);
      t.unref();
      this.timers.push(t);
    }
  }

  fire(reason: LimitReason): void {
    if (this.fired) return;
    this.fired = true;
    this.stop();
    this.opts.onLimit(reason);
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }
}
