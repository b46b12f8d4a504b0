/**
 * Lifecycle hooks: `<dir>/<event>`, `<dir>/<event>.sh`, then `<dir>/<event>.d/*` in
 * name order, for each hook directory in turn. Every hook is bounded by a timeout
 * (its whole process group is killed), and a hook the agent user could have written
 * or replaced runs as the agent user, never as root.
 */
import { type Stats, accessSync, constants, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import type { Env } from '../supervisor/child-env.js';
import type { AgentIdentity } from '../supervisor/users.js';

export const HOOK_EVENTS = ['pre-start', 'post-start', 'pre-stop', 'session-end'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export interface HookResult {
  path: string;
  runAs: 'agent' | 'init';
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  error?: string;
  durationMs: number;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The hooks of one event, in run order. Non-executable files are reported, not run. */
export function discoverHooks(dirs: string[], event: HookEvent, log: Logger): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    const candidates = [join(dir, event), join(dir, `${event}.sh`)];
    const dotD = join(dir, `${event}.d`);
    if (statOrUndefined(dotD)?.isDirectory()) {
      for (const name of readdirSync(dotD).sort()) candidates.push(join(dotD, name));
    }
    for (const path of candidates) {
      const st = statOrUndefined(path);
      if (!st?.isFile()) continue;
      if (!isExecutable(path)) {
        log.warn({ hook: path, event }, 'hook is not executable: skipped');
        continue;
      }
      out.push(path);
    }
  }
  return out;
}

function canWrite(st: Stats, uid: number, gids: number[]): boolean {
  if (st.uid === uid) return true; // an owner can always chmod it writable
  if (gids.includes(st.gid) && (st.mode & 0o020) !== 0) return true;
  return (st.mode & 0o002) !== 0;
}

/**
 * Whether the agent user could have changed what runs at `path`: by writing the file,
 * or by replacing it or any directory above it. A sticky directory protects entries
 * the agent does not own.
 */
export function agentControls(path: string, uid: number, gids: number[]): boolean {
  const fileSt = statOrUndefined(path);
  if (!fileSt) return false;
  if (canWrite(fileSt, uid, gids)) return true;
  let child = path;
  let childSt = fileSt;
  for (;;) {
    const dir = dirname(child);
    const dirSt = statOrUndefined(dir);
    if (!dirSt) return false;
    if (canWrite(dirSt, uid, gids)) {
      const sticky = (dirSt.mode & 0o1000) !== 0;
      if (!sticky || childSt.uid === uid || dirSt.uid === uid) return true;
    }
    if (dir === child || dir === '/') return false;
    child = dir;
    childSt = dirSt;
  }
}

/** TERM to a hook's process group, then KILL one second later if anything is left. */
function terminateGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return; // group already gone
  }
  setTimeout(() => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // group already gone
    }
  }, 1000).unref();
}

export interface HookRunnerOptions {
  dirs: string[];
  identity: AgentIdentity;
  env: Env;
  log: Logger;
}

export class HookRunner {
  private readonly running = new Map<number, HookEvent>();
  private readonly cancelled = new Set<HookEvent>();

  constructor(private readonly opts: HookRunnerOptions) {}

  /** Stops the event's running hook (TERM to its group, KILL a second later) and skips the rest. */
  cancel(event: HookEvent): void {
    this.cancelled.add(event);
    for (const [pid, ev] of this.running) if (ev === event) terminateGroup(pid);
  }

  /**
   * Runs the event's hooks one after another, each within `perHookMs`, all of them
   * within `totalMs`. A failing hook does not stop the next one. Never throws.
   */
  async run(event: HookEvent, perHookMs: number, totalMs = Number.POSITIVE_INFINITY): Promise<HookResult[]> {
    const { log } = this.opts;
    const hooks = discoverHooks(this.opts.dirs, event, log);
    const results: HookResult[] = [];
    const deadline = Date.now() + totalMs;
    for (const path of hooks) {
      if (this.cancelled.has(event)) {
        log.info({ event }, 'hooks cancelled: remaining hooks skipped');
        break;
      }
      const left = Math.min(perHookMs, deadline - Date.now());
      if (left <= 0) {
        log.warn({ event, hook: path }, 'hook time budget used up: remaining hooks skipped');
        break;
      }
      results.push(await this.runOne(event, path, left));
    }
    return results;
  }

  private async runOne(event: HookEvent, path: string, timeoutMs: number): Promise<HookResult> {
    const { identity, log } = this.opts;
    const isRoot = (process.getuid?.() ?? 0) === 0;
    // A symlink is judged by both ends: a root-owned link to an agent-owned script is the agent's.
    let real = path;
    try {
      real = realpathSync(path);
    } catch {
      // vanished: execa reports it
    }
    const asAgent =
      isRoot && identity.mode === 'drop' && (agentControls(path, identity.uid, identity.agentGids) || agentControls(real, identity.uid, identity.agentGids));
    const started = Date.now();
    const env: Env = { ...this.opts.env, SCION_HOOK_EVENT: event };
    if (isRoot && !asAgent) {
      env.HOME = process.env.HOME ?? '/root';
      env.USER = 'root';
      env.LOGNAME = 'root';
    }
    // Loaded on first use: most agents have no hooks, and init idles for days.
    const { execa } = await import('execa');
    const sub = execa(real, [], {
      env,
      extendEnv: false,
      stdin: 'ignore',
      stdout: 2,
      stderr: 2,
      detached: true,
      reject: false,
      cwd: '/',
      ...(asAgent ? { uid: identity.uid, gid: identity.gid } : {}),
    });
    const pid = sub.pid;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined) terminateGroup(pid);
    }, timeoutMs);
    if (pid !== undefined) this.running.set(pid, event);
    const r = await sub;
    clearTimeout(timer);
    if (pid !== undefined) this.running.delete(pid);
    const result: HookResult = {
      path,
      runAs: asAgent ? 'agent' : 'init',
      code: r.exitCode ?? null,
      signal: r.signal ?? null,
      timedOut,
      durationMs: Date.now() - started,
    };
    if (r.failed && r.exitCode === undefined && r.signal === undefined) result.error = r.shortMessage;
    const fields = { event, hook: path, runAs: result.runAs, code: result.code, signal: result.signal, durationMs: result.durationMs };
    if (timedOut) log.warn({ ...fields, timeoutMs }, 'hook timed out: its process group was killed');
    else if (result.error) log.warn({ ...fields, err: result.error }, 'hook could not be started');
    else if (result.code !== 0) log.warn(fields, 'hook failed');
    else log.info(fields, 'hook finished');
    return result;
  }
}
