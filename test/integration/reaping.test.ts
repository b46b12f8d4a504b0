import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NODE_BIN_DIR, ROOT, isRoot, runInit, tempDir } from '../helpers/init-harness.js';

// Counts zombies in the whole PID namespace (init's /proc), then prints the count.
const COUNT_ZOMBIES = `z=0; for f in /proc/[0-9]*/stat; do s=$(cut -d')' -f2 "$f" 2>/dev/null | cut -d' ' -f2); [ "$s" = Z ] && z=$((z+1)); done; echo "zombies=$z"`;
// Zombies whose parent is init (the child's parent), for runs outside a PID namespace.
const COUNT_OUR_ZOMBIES = `z=0; for f in /proc/[0-9]*/stat; do set -- $(cut -d')' -f2 "$f" 2>/dev/null); [ "$1" = Z ] && [ "$2" = "$PPID" ] && z=$((z+1)); done; echo "zombies=$z"`;

function orphanJobs(n: number): string {
  return `i=0; while [ $i -lt ${n} ]; do sh -c 'sleep 0.05 & (sleep 0.02 &) ; exit 3'; i=$((i+1)); done`;
}

function zombiesIn(stdout: string): number {
  const m = /zombies=(\d+)/.exec(stdout);
  if (!m) throw new Error(`no zombie count in child output: ${stdout}`);
  return Number(m[1]);
}

describe.runIf(isRoot)('zombie reaping', () => {
  it('300 jobs leaving two orphans each: zero zombies one second after they end (PID 1)', async () => {
    const r = await runInit({
      pid1: true,
      timeoutMs: 60_000,
      env: { SCION_LOG_LEVEL: 'info' },
      args: ['init', '--', 'sh', '-c', `${orphanJobs(300)}; sleep 1; ${COUNT_ZOMBIES}`],
    });
    expect(r.code).toBe(0);
    expect(zombiesIn(r.stdout)).toBe(0);
    const exit = r.logs.find((l) => l.msg === 'init exiting');
    expect(exit?.orphansReaped).toBeGreaterThanOrEqual(600);
  });

  it('observes every exit code of its own short children (hooks) while reaping orphans', async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks', 'post-start.d');
    mkdirSync(hooks, { recursive: true });
    const N = 150;
    const expected = new Map<string, { code: number | null; signal: string | null }>();
    for (let i = 0; i < N; i++) {
      const path = join(hooks, String(i).padStart(4, '0'));
      const killed = i % 7 === 6;
      writeFileSync(path, `#!/bin/sh\nsleep 0.02 & (sleep 0.01 &)\n${killed ? 'kill -TERM $$' : `exit ${i % 256}`}\n`, { mode: 0o755 });
      expected.set(path, killed ? { code: null, signal: 'SIGTERM' } : { code: i % 256, signal: null });
    }
    // The last hook tells the child to stop making orphans.
    writeFileSync(join(hooks, 'zzzz-done'), `#!/bin/sh\ntouch ${dir}/done\n`, { mode: 0o755 });
    const r = await runInit({
      pid1: true,
      timeoutMs: 90_000,
      env: { SCION_HOOKS_DIR: join(dir, 'hooks') },
      args: ['init', '--', 'sh', '-c', `while [ ! -f ${dir}/done ]; do sh -c 'sleep 0.01 & exit 0'; done; sleep 1; ${COUNT_ZOMBIES}`],
    });
    expect(r.code).toBe(0);
    expect(zombiesIn(r.stdout)).toBe(0);
    const seen = new Map<string, { code: number | null; signal: string | null }>();
    for (const l of r.logs) {
      if (l.event === 'post-start' && typeof l.hook === 'string' && expected.has(l.hook)) {
        seen.set(l.hook, { code: (l.code as number | null) ?? null, signal: (l.signal as string | null) ?? null });
      }
    }
    expect(seen.size).toBe(N);
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(expected));
    expect(r.logs.find((l) => l.msg === 'init exiting')?.orphansReaped).toBeGreaterThan(N);
  });
});

describe('reaper addon under stress (child_process and execa, 1 ms sweeps)', () => {
  const addon = join(ROOT, 'dist', 'reaper.node');
  const fixture = join(ROOT, 'test', 'fixtures', 'reaper-stress.mjs');
  const run = (pid1: boolean) => {
    const argv = pid1
      ? ['timeout', '-s', 'KILL', '60', 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'node', fixture, addon, '300']
      : ['timeout', '-s', 'KILL', '60', 'node', fixture, addon, '300'];
    const r = spawnSync(argv[0] as string, argv.slice(1), { env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}` }, encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(line) as { jobs: number; correct: number; timedOut: boolean; zombies: number; reaped: number; subreaper: boolean; ownedWhileRunning: number };
  };
  it.runIf(isRoot)('as PID 1: every exit status right, no zombies, all orphans reaped', () => {
    const r = run(true);
    expect(r).toMatchObject({ jobs: 300, correct: 300, timedOut: false, zombies: 0 });
    expect(r.reaped).toBeGreaterThanOrEqual(600);
  });
  it('as a subreaper (not PID 1): the same', () => {
    const r = run(false);
    expect(r).toMatchObject({ jobs: 300, correct: 300, timedOut: false, zombies: 0, subreaper: true });
    expect(r.ownedWhileRunning).toBeGreaterThan(0);
    expect(r.reaped).toBeGreaterThanOrEqual(600);
  });
});

describe('not PID 1', () => {
  it('init as a subreaper adopts and reaps the orphans: no zombies', async () => {
    const r = await runInit({
      pid1: false,
      timeoutMs: 60_000,
      args: ['init', '--', 'sh', '-c', `${orphanJobs(50)}; sleep 1; ${COUNT_OUR_ZOMBIES}`],
    });
    expect(r.code).toBe(0);
    expect(zombiesIn(r.stdout)).toBe(0);
    // The orphans came to init (subreaper), not to the host's init.
    expect(r.logs.find((l) => l.msg === 'init exiting')?.orphansReaped).toBeGreaterThanOrEqual(100);
  });
});

describe('without the reaper addon', () => {
  it('warns loudly once and keeps supervising', async () => {
    const { copyFileSync } = await import('node:fs');
    const { BUNDLE } = await import('../helpers/init-harness.js');
    const dir = tempDir();
    // The bundle alone, far from any reaper.node.
    const lonely = join(dir, 'sciontool.mjs');
    copyFileSync(BUNDLE, lonely);
    const r = spawnSync('timeout', ['-s', 'KILL', '30', lonely, 'init', '--', 'sh', '-c', 'exit 42'], {
      env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}`, SCION_LOG_FORMAT: 'json' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(42);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('ZOMBIE REAPING IS DISABLED'));
    expect(warnings).toHaveLength(1);
  });
});
