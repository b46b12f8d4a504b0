/**
 * The supervised child: spawned in its own session (so its whole process group can
 * be signalled), stdio inherited, exit mapped to a shell-style code.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Env } from './child-env.js';

export interface ChildExit {
  /** The code init should exit with for this outcome. */
  exitCode: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all. */
  spawnError?: { code: string; message: string };
}

export interface SpawnedChild {
  pid: number | undefined;
  exited: Promise<ChildExit>;
}

export interface ChildSpec {
  argv: string[];
  env: Env;
  uid?: number;
  gid?: number;
}

export function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/** 127 command not found and 126 not executable, as shells and tini report them. */
export function spawnErrorExitCode(code: string | undefined): number {
  if (code === 'ENOENT') return 127;
  if (code === 'EACCES' || code === 'EPERM' || code === 'ENOEXEC' || code === 'EISDIR') return 126;
  return 1;
}

export function spawnChild(spec: ChildSpec): SpawnedChild {
  const [file, ...args] = spec.argv as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: 'inherit',
    // setsid(): the child leads a new session and process group, so init can
    // signal the group, and init's own group is never hit by the child's kills.
    detached: true,
    env: spec.env,
    ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
  });
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      // 'error' without a pid means exec failed; with a pid it is a kill() error we ignore.
      if (child.pid !== undefined) return;
      const code = err.code ?? 'UNKNOWN';
      resolve({ exitCode: spawnErrorExitCode(code), code: null, signal: null, spawnError: { code, message: err.message } });
    });
    child.once('exit', (code, signal) => {
      if (signal !== null) resolve({ exitCode: 128 + signalNumber(signal), code: null, signal });
      else resolve({ exitCode: (code ?? 1) & 0xff, code, signal: null });
    });
  });
  return { pid: child.pid, exited };
}
