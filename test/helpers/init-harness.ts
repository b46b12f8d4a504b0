/**
 * Runs the built bundle (dist/sciontool.mjs) the way a container does: as PID 1 of a
 * fresh PID namespace (`unshare --pid --fork --mount-proc`), or as a plain process.
 * Every run is wrapped in `timeout -s KILL` so a hung init can never hang the suite.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants, readProcesses } from '../../src/supervisor/process-tree.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE = join(ROOT, 'dist', 'sciontool.mjs');
export const NODE_BIN_DIR = join(ROOT, 'node_modules', '.bin');

if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);

export const isRoot = (process.getuid?.() ?? 1) === 0;

export interface RunOptions {
  args: string[];
  env?: Record<string, string | undefined>;
  /** Run as PID 1 of a new PID namespace (needs root). */
  pid1?: boolean;
  /** Shell commands run (as root, inside the namespaces) before exec'ing init. */
  prelude?: string;
  /** Hard limit; the process tree is SIGKILLed when it passes. */
  timeoutMs?: number;
  stdin?: 'ignore' | 'pipe';
  /** A command that execs init, e.g. setpriv to run it as another user. */
  wrapper?: string[];
}

export interface RunningInit {
  proc: ChildProcess;
  /** Host pid of sciontool init (PID 1 inside its namespace when pid1). */
  initPid(): Promise<number>;
  result: Promise<RunResult>;
  /** Log lines so far, while init runs. */
  logsSoFar(): LogLine[];
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  logs: LogLine[];
  elapsedMs: number;
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export function parseLogs(stderr: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // not a log line
    }
  }
  return out;
}

export function tempDir(prefix = 'sciontool-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function startInit(opts: RunOptions): RunningInit {
  const timeoutS = Math.ceil((opts.timeoutMs ?? 20_000) / 1000);
  const quoted = [...(opts.wrapper ?? []), BUNDLE, ...opts.args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${opts.prelude ? `${opts.prelude}\n` : ''}exec ${quoted}`;
  const inner = opts.pid1 ? ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', script] : ['sh', '-c', script];
  const argv = ['timeout', '-s', 'KILL', String(timeoutS), ...inner];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, SCION_LOG_FORMAT: 'json', ...opts.env })) if (v !== undefined) env[k] = v;
  env.PATH = `${NODE_BIN_DIR}:${env.PATH ?? '/usr/bin:/bin'}`;
  const started = Date.now();
  const proc = spawn(argv[0] as string, argv.slice(1), { env, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const result = new Promise<RunResult>((res) => {
    proc.on('close', (code, signal) => res({ code, signal, stdout, stderr, logs: parseLogs(stderr), elapsedMs: Date.now() - started }));
  });
  const initPid = async (): Promise<number> => {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const node = descendants(proc.pid as number, readProcesses()).find((p) => p.comm.startsWith('node') || p.comm === 'sciontool.mjs' || p.comm === 'MainThread');
      if (node) return node.pid;
      await sleep(10);
    }
    throw new Error('sciontool init did not start within 10 s');
  };
  return { proc, initPid, result, logsSoFar: () => parseLogs(stderr) };
}

export function runInit(opts: RunOptions): Promise<RunResult> {
  return startInit(opts).result;
}

/** Waits until `predicate` holds, polling; fails with `what` after `ms`. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    await sleep(20);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Host pids of the processes below `root` whose comm is `comm`. */
export function findDescendants(root: number, comm: string): number[] {
  return descendants(root, readProcesses())
    .filter((p) => p.comm === comm && p.state !== 'Z')
    .map((p) => p.pid);
}

export function readIfExists(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
