import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDescendants, isRoot, runInit, startInit, tempDir, waitFor } from '../helpers/init-harness.js';

describe.runIf(isRoot)('init as PID 1: exit codes', () => {
  for (const code of [0, 1, 42, 255]) {
    it(`passes exit code ${code} through`, async () => {
      const r = await runInit({ pid1: true, args: ['init', '--', 'sh', '-c', `exit ${code}`] });
      expect(r.code).toBe(code);
    });
  }

  const signals: [NodeJS.Signals, number][] = [
    ['SIGTERM', 15],
    ['SIGINT', 2],
    ['SIGHUP', 1],
    ['SIGUSR2', 12],
  ];
  for (const [sig, n] of signals) {
    it(`exits 128+${n} when the child dies of ${sig} sent from outside its group`, async () => {
      const run = startInit({ pid1: true, args: ['init', '--', 'sleep', '30'] });
      const init = await run.initPid();
      const [sleepPid] = await waitFor('the child sleep', () => {
        const p = findDescendants(init, 'sleep');
        return p.length > 0 ? p : undefined;
      });
      process.kill(sleepPid as number, sig);
      const r = await run.result;
      expect(r.code).toBe(128 + n);
      expect(r.logs.find((l) => l.msg === 'child exited')).toMatchObject({ signal: sig, exitCode: 128 + n });
    });
  }

  it('exits 127 when the command does not exist', async () => {
    const r = await runInit({ pid1: true, args: ['init', '--', '/nonexistent/agent'] });
    expect(r.code).toBe(127);
    expect(r.logs.find((l) => l.msg === 'child could not be started')).toMatchObject({ code: 'ENOENT' });
  });

  it('exits 127 when the command is not on PATH', async () => {
    const r = await runInit({ pid1: true, args: ['init', '--', 'no-such-command-sciontool'] });
    expect(r.code).toBe(127);
  });

  it('exits 126 when the file is not executable', async () => {
    const dir = tempDir();
    const file = join(dir, 'agent.sh');
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
    chmodSync(file, 0o644);
    const r = await runInit({ pid1: true, args: ['init', '--', file] });
    expect(r.code).toBe(126);
  });

  it('runs the full shutdown sequence for a child that exits at once, then exits with its code', async () => {
    const dir = tempDir();
    const marker = join(dir, 'grandchild');
    const hooks = join(dir, 'hooks');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'session-end'), `#!/bin/sh\necho session-end >> ${marker}\n`, { mode: 0o755 });
    const grandchild = `trap 'echo got-term >> ${marker}; exit 0' TERM; while :; do sleep 0.05; done`;
    const r = await runInit({
      pid1: true,
      env: { SCION_HOOKS_DIR: hooks },
      args: ['init', '--grace-period', '5s', '--', 'sh', '-c', `sh -c "${grandchild}" & sleep 0.2; exit 5`],
    });
    expect(r.code).toBe(5);
    const { readFileSync } = await import('node:fs');
    // The leftover got a catchable TERM (tini would let the kernel SIGKILL it), then session-end ran.
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toEqual(['got-term', 'session-end']);
    expect(r.elapsedMs).toBeLessThan(5000);
  });
});

describe('usage errors exit 2 with one line', () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['no command', ['init'], {}, /no command given/],
    ['no command after --', ['init', '--'], {}, /no command given/],
    ['bad --grace-period', ['init', '--grace-period', '10x', '--', 'true'], {}, /invalid --grace-period "10x"/],
    ['missing --grace-period value', ['init', '--grace-period'], {}, /--grace-period needs a duration/],
    ['unknown option', ['init', '--frobnicate', '--', 'true'], {}, /unknown option "--frobnicate"/],
    ['unknown subcommand', ['frob'], {}, /unknown subcommand "frob"/],
    ['bad SCION_GRACE_PERIOD', ['init', '--', 'true'], { SCION_GRACE_PERIOD: 'soon' }, /invalid SCION_GRACE_PERIOD "soon"/],
    ['bad SCION_HOST_UID', ['init', '--', 'true'], { SCION_HOST_UID: 'abc' }, /invalid SCION_HOST_UID "abc"/],
    ['bad SCION_LOG_LEVEL', ['init', '--', 'true'], { SCION_LOG_LEVEL: 'loud' }, /invalid SCION_LOG_LEVEL "loud"/],
  ];
  for (const [name, args, env, re] of cases) {
    it(name, async () => {
      const r = await runInit({ args, env });
      expect(r.code).toBe(2);
      const first = r.stderr.split('\n')[0] ?? '';
      expect(first).toMatch(/^sciontool: /);
      expect(first).toMatch(re);
    });
  }

  it('the flag wins over SCION_GRACE_PERIOD', async () => {
    const r = await runInit({ args: ['init', '--grace-period', '1500ms', '--', 'true'], env: { SCION_GRACE_PERIOD: '2m' } });
    expect(r.code).toBe(0);
    expect(r.logs.find((l) => l.msg === 'sciontool init starting')).toMatchObject({ gracePeriodMs: 1500 });
  });

  it('SCION_GRACE_PERIOD sets the default', async () => {
    const r = await runInit({ args: ['init', '--', 'true'], env: { SCION_GRACE_PERIOD: '2m' } });
    expect(r.logs.find((l) => l.msg === 'sciontool init starting')).toMatchObject({ gracePeriodMs: 120_000 });
  });
});

describe.runIf(isRoot)('review regressions', () => {
  it('session-end hooks are not cut short by the grace deadline of the leftovers', async () => {
    const { mkdirSync, readFileSync } = await import('node:fs');
    const dir = tempDir();
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    const marker = join(dir, 'marker');
    writeFileSync(join(hooks, 'session-end'), `#!/bin/sh\nsleep 1.5\necho session-end-done >> ${marker}\n`, { mode: 0o755 });
    const r = await runInit({
      pid1: true,
      env: { SCION_HOOKS_DIR: hooks },
      // The leftover ignores TERM, so it takes the whole 1 s grace and a SIGKILL.
      args: ['init', '--grace-period', '1s', '--', 'sh', '-c', `sh -c "trap '' TERM; sleep 30" & sleep 0.2; exit 3`],
    });
    expect(r.code).toBe(3);
    expect(readFileSync(marker, 'utf8')).toBe('session-end-done\n');
  });

  it('a SIGUSR1 after the child exited does not turn its exit code into 10', async () => {
    const run = startInit({
      pid1: true,
      args: ['init', '--grace-period', '3s', '--', 'sh', '-c', `sh -c "trap '' TERM; sleep 30" & sleep 0.3; exit 3`],
    });
    const init = await run.initPid();
    await waitFor('the child to exit', () => run.logsSoFar().some((l) => l.msg === 'child exited') || undefined);
    process.kill(init, 'SIGUSR1');
    const r = await run.result;
    expect(r.code).toBe(3);
    expect(r.logs.some((l) => l.msg === 'limit signal after the child exited: ignored')).toBe(true);
  });
});
