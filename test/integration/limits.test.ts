import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRoot, runInit, tempDir } from '../helpers/init-harness.js';

describe.runIf(isRoot)('limits exit 10', () => {
  it('SCION_MAX_DURATION stops the child', async () => {
    const r = await runInit({ pid1: true, env: { SCION_MAX_DURATION: '500ms' }, args: ['init', '--', 'sleep', '30'] });
    expect(r.code).toBe(10);
    expect(r.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('LIMITS_EXCEEDED'))).toMatchObject({ reason: 'max-duration' });
  });

  it('the trigger file stops the child; a stale one from an earlier run does not', async () => {
    const dir = tempDir();
    const trigger = join(dir, 'limits-exceeded');
    writeFileSync(trigger, 'stale');
    const r = await runInit({
      pid1: true,
      env: { SCION_LIMITS_TRIGGER_FILE: trigger },
      args: ['init', '--', 'sh', '-c', `sleep 1.5; echo exceeded > ${trigger}; sleep 30`],
    });
    expect(r.code).toBe(10);
    expect(r.logs.some((l) => l.msg === 'removed a stale limits trigger file')).toBe(true);
    expect(r.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('LIMITS_EXCEEDED'))).toMatchObject({ reason: 'trigger-file' });
    expect(r.elapsedMs).toBeGreaterThan(1400);
  });

  it('escalates to SIGKILL for a child that ignores TERM, and still exits 10', async () => {
    const r = await runInit({
      pid1: true,
      env: { SCION_MAX_DURATION: '300ms' },
      args: ['init', '--grace-period', '500ms', '--', 'sh', '-c', "trap '' TERM; sleep 30"],
    });
    expect(r.code).toBe(10);
    expect(r.logs.find((l) => l.msg === 'child exited')).toMatchObject({ signal: 'SIGKILL' });
  });

  it('refuses a bad SCION_MAX_DURATION', async () => {
    const r = await runInit({ env: { SCION_MAX_DURATION: '1 hour' }, args: ['init', '--', 'true'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid SCION_MAX_DURATION "1 hour"/);
  });
});
