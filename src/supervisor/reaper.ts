/**
 * Reaps orphans re-parented to init without ever taking the exit status of a child
 * that libuv (child_process, execa) is waiting for. The work is done by a small
 * N-API addon (native/reaper.c); this module loads it, makes init a child subreaper
 * when it is not PID 1, and sweeps on SIGCHLD and on a slow timer.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

export interface Reaped {
  pid: number;
  code: number | null;
  signal: number | null;
  comm: string;
}

export interface ReaperAddon {
  setSubreaper(on: boolean): void;
  isSubreaper(): boolean;
  ownedPids(): number[];
  reapOrphans(extraOwned?: number[]): Reaped[];
}

/** Where the addon may be: beside the bundle (dist/), or the node-gyp output in a checkout. */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [
    join(here, 'reaper.node'),
    join(here, 'native', 'build', 'Release', 'reaper.node'),
    join(here, '..', 'src', 'supervisor', 'native', 'build', 'Release', 'reaper.node'),
  ];
}

export function loadReaperAddon(): { addon: ReaperAddon } | { error: string } {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of candidates()) {
    if (!existsSync(path)) {
      tried.push(path);
      continue;
    }
    try {
      return { addon: require(path) as ReaperAddon };
    } catch (err) {
      return { error: `cannot load ${path}: ${(err as Error).message}` };
    }
  }
  return { error: `reaper.node not found (looked in ${tried.join(', ')})` };
}

export interface ReaperOptions {
  log: Logger;
  intervalMs?: number;
  /** Pids of our own children that are waited for outside libuv. */
  extraOwned?: () => number[];
}

export class Reaper {
  private addon: ReaperAddon | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly onSigchld = (): void => {
    this.sweep();
  };
  reapedCount = 0;

  constructor(private readonly opts: ReaperOptions) {}

  /** Loads the addon and starts sweeping. Never throws: without the addon, init still supervises. */
  start(): boolean {
    const { log } = this.opts;
    const loaded = loadReaperAddon();
    if ('error' in loaded) {
      log.warn(
        { err: loaded.error },
        'ZOMBIE REAPING IS DISABLED: the reaper addon could not be loaded; orphaned processes will accumulate as zombies',
      );
      return false;
    }
    this.addon = loaded.addon;
    if (process.pid !== 1) {
      try {
        this.addon.setSubreaper(true);
        log.debug('not PID 1: registered as child subreaper');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'not PID 1 and cannot become a child subreaper: orphans will go to the host init');
      }
    }
    process.on('SIGCHLD', this.onSigchld);
    this.timer = setInterval(() => this.sweep(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
    this.sweep();
    return true;
  }

  get active(): boolean {
    return this.addon !== undefined;
  }

  /** Reaps every waitable orphan now. Safe to call at any time on the main thread. */
  sweep(): Reaped[] {
    if (!this.addon) return [];
    const reaped = this.addon.reapOrphans(this.opts.extraOwned?.() ?? []);
    this.reapedCount += reaped.length;
    for (const r of reaped) {
      this.opts.log.debug(
        { pid: r.pid, comm: r.comm, code: r.code, signal: r.signal },
        r.signal === null ? 'reaped orphan (exited)' : 'reaped orphan (killed by signal)',
      );
    }
    return reaped;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    process.off('SIGCHLD', this.onSigchld);
  }
}
