import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDescendants, isRoot, readIfExists, startInit, tempDir, waitFor } from '../helpers/init-harness.js';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(isRoot)('init as PID 1: signals', () => {
  it('SIGTERM reaches a grandchild in the child\'s process group', async () => {
    const dir = tempDir();
    const marker = join(dir, 'marker');
    const grandchild = `trap 'echo grandchild-term >> ${marker}; exit 0' TERM; echo ready >> ${marker}; while :; do sleep 0.05; done`;
    const run = startInit({ pid1: true, args: ['init', '--', 'sh', '-c', `sh -c "${grandchild}" & wait`] });
    const init = await run.initPid();
    await waitFor('the grandchild to trap TERM', () => readIfExists(marker).includes('ready'));
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(readIfExists(marker)).toContain('grandchild-term');
    // The child shell itself died of the forwarded TERM.
    expect(r.code).toBe(143);
  });

  it('kills a child that ignores TERM after the grace period (137, in about the grace period)', async () => {
    const run = startInit({ pid1: true, args: ['init', '--grace-period', '1s', '--', 'sh', '-c', "trap '' TERM; sleep 30"] });
    const init = await run.initPid();
    await waitFor('the child sleep', () => findDescendants(init, 'sleep').length > 0 || undefined);
    const sent = Date.now();
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    const took = Date.now() - sent;
    expect(r.code).toBe(137);
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(4000);
    expect(r.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('grace period expired'))).toBe(true);
  });

  it('forwards a repeated SIGTERM instead of swallowing it', async () => {
    const dir = tempDir();
    const marker = join(dir, 'marker');
    // Counts TERMs; exits on the second one.
    const script = `n=0; trap 'n=$((n+1)); echo term$n >> ${marker}; [ $n -ge 2 ] && exit 7' TERM; echo ready >> ${marker}; while :; do sleep 0.05; done`;
    const run = startInit({ pid1: true, args: ['init', '--grace-period', '20s', '--', 'sh', '-c', script] });
    const init = await run.initPid();
    await waitFor('ready', () => readIfExists(marker).includes('ready'));
    process.kill(init, 'SIGTERM');
    await waitFor('first TERM', () => readIfExists(marker).includes('term1'));
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(7);
    expect(readIfExists(marker)).toContain('term2');
  });

  it('forwards SIGHUP, SIGQUIT, SIGWINCH, SIGALRM and SIGCONT to the child\'s group', async () => {
    const dir = tempDir();
    const marker = join(dir, 'marker');
    const sigs = ['HUP', 'QUIT', 'WINCH', 'ALRM', 'CONT'];
    const traps = sigs.map((s) => `trap 'echo ${s} >> ${marker}' ${s};`).join(' ');
    // The child itself traps them: a background job of a non-interactive shell has SIGQUIT ignored.
    const script = `${traps} echo ready >> ${marker}; while :; do sleep 0.05; done`;
    const run = startInit({ pid1: true, args: ['init', '--grace-period', '1s', '--', 'sh', '-c', script] });
    const init = await run.initPid();
    await waitFor('ready', () => readIfExists(marker).includes('ready'));
    for (const s of sigs) {
      process.kill(init, `SIG${s}` as NodeJS.Signals);
      await waitFor(`${s} to arrive`, () => readIfExists(marker).includes(s));
    }
    process.kill(init, 'SIGKILL');
    await run.result;
    for (const s of sigs) expect(readIfExists(marker)).toContain(s);
  });

  it('SIGUSR1 stops the child and exits 10, and never opens the inspector on 9229', async () => {
    expect(await portOpen(9229)).toBe(false);
    const run = startInit({ pid1: true, args: ['init', '--grace-period', '1500ms', '--', 'sh', '-c', "trap '' TERM; sleep 30"] });
    const init = await run.initPid();
    await waitFor('the child sleep', () => findDescendants(init, 'sleep').length > 0 || undefined);
    process.kill(init, 'SIGUSR1');
    await sleep(500);
    // Init is still in its grace period here: had SIGUSR1 opened the inspector, it would listen now.
    expect(run.proc.exitCode).toBeNull();
    expect(await portOpen(9229)).toBe(false);
    const r = await run.result;
    expect(r.code).toBe(10);
    expect(r.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('LIMITS_EXCEEDED'))).toMatchObject({ reason: 'sigusr1' });
    expect(r.stderr).not.toContain('Debugger listening');
  });

  it('logs and ignores SIGUSR2 sent to init', async () => {
    const run = startInit({ pid1: true, args: ['init', '--', 'sleep', '30'] });
    const init = await run.initPid();
    await waitFor('the child sleep', () => findDescendants(init, 'sleep').length > 0 || undefined);
    process.kill(init, 'SIGUSR2');
    await sleep(300);
    expect(run.proc.exitCode).toBeNull();
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(143);
    expect(r.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('SIGUSR2 received'))).toBe(true);
  });

  it('SIGINT starts the same graceful stop as SIGTERM and is forwarded as SIGINT', async () => {
    const run = startInit({ pid1: true, args: ['init', '--', 'sleep', '30'] });
    const init = await run.initPid();
    await waitFor('the child sleep', () => findDescendants(init, 'sleep').length > 0 || undefined);
    process.kill(init, 'SIGINT');
    const r = await run.result;
    expect(r.code).toBe(130);
  });
});
