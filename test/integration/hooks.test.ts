import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDescendants, isRoot, readIfExists, runInit, startInit, tempDir, waitFor } from '../helpers/init-harness.js';
import { makeFakeEtc } from '../helpers/fake-etc.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudC1ob29rcyJ9.aG9va3Mtc2lnbmF0dXJl';

function hook(path: string, log: string, label: string, extra = ''): void {
  writeFileSync(path, `#!/bin/sh\necho "${label} uid=$(id -u) event=$SCION_HOOK_EVENT token=\${SCION_AUTH_TOKEN:-none}" >> ${log}\n${extra}`, { mode: 0o755 });
}

/** A directory everyone can enter, with a log both root's and the agent's hooks can append to. */
function sharedLog(): { dir: string; log: string } {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  const log = join(dir, 'order.log');
  writeFileSync(log, '', { mode: 0o666 });
  chmodSync(log, 0o666); // past the umask
  return { dir, log };
}

describe.runIf(isRoot)('lifecycle hooks', () => {
  it('run in order, as root from root-owned directories and as the agent from agent-writable ones', async () => {
    const etc = makeFakeEtc();
    const { dir, log } = sharedLog();
    const sys = join(dir, 'hooks');
    mkdirSync(join(sys, 'pre-start.d'), { recursive: true });
    hook(join(sys, 'pre-start'), log, 'sys/pre-start');
    hook(join(sys, 'pre-start.sh'), log, 'sys/pre-start.sh');
    hook(join(sys, 'pre-start.d', '20-b'), log, 'sys/pre-start.d/20-b');
    hook(join(sys, 'pre-start.d', '10-a'), log, 'sys/pre-start.d/10-a');
    writeFileSync(join(sys, 'pre-start.d', '15-not-executable'), '#!/bin/sh\necho never\n', { mode: 0o644 });
    // A file the agent owns in a root-owned directory: the agent could rewrite it.
    hook(join(sys, 'pre-start.d', '30-agent-owned'), log, 'sys/pre-start.d/30-agent-owned');
    chownSync(join(sys, 'pre-start.d', '30-agent-owned'), etc.uid, etc.gid);
    hook(join(sys, 'post-start'), log, 'sys/post-start');
    hook(join(sys, 'pre-stop'), log, 'sys/pre-stop');
    hook(join(sys, 'session-end'), log, 'sys/session-end');
    // A directory the agent owns.
    const agentDir = join(dir, 'agent-hooks');
    mkdirSync(agentDir);
    hook(join(agentDir, 'pre-start'), log, 'agent/pre-start');
    chownSync(agentDir, etc.uid, etc.gid);

    const run = startInit({
      pid1: true,
      prelude: etc.prelude,
      env: { SCION_HOOKS_DIR: `${sys}:${agentDir}`, SCION_AUTH_TOKEN: JWT },
      args: ['init', '--', 'sleep', '30'],
    });
    const init = await run.initPid();
    await waitFor('post-start', () => readIfExists(log).includes('sys/post-start'));
    await waitFor('the child', () => findDescendants(init, 'sleep').length > 0 || undefined);
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(143);
    const lines = readIfExists(log).trim().split('\n');
    expect(lines).toEqual([
      'sys/pre-start uid=0 event=pre-start token=none',
      'sys/pre-start.sh uid=0 event=pre-start token=none',
      'sys/pre-start.d/10-a uid=0 event=pre-start token=none',
      'sys/pre-start.d/20-b uid=0 event=pre-start token=none',
      `sys/pre-start.d/30-agent-owned uid=${etc.uid} event=pre-start token=none`,
      `agent/pre-start uid=${etc.uid} event=pre-start token=none`,
      'sys/post-start uid=0 event=post-start token=none',
      'sys/pre-stop uid=0 event=pre-stop token=none',
      'sys/session-end uid=0 event=session-end token=none',
    ]);
    expect(r.logs.some((l) => l.msg === 'hook is not executable: skipped' && String(l.hook).endsWith('15-not-executable'))).toBe(true);
  });

  it('kills a hook that outlives its timeout, with its whole process group, and goes on', async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    const marker = join(dir, 'marker');
    writeFileSync(join(hooks, 'pre-start'), `#!/bin/sh\n(sleep 30; echo leaked >> ${marker}) &\nsleep 30\n`, { mode: 0o755 });
    const r = await runInit({
      pid1: true,
      env: { SCION_HOOKS_DIR: hooks, SCION_HOOK_TIMEOUT: '500ms' },
      // By the time the child runs, the hook's background `sleep 30` must be gone too.
      args: ['init', '--', 'sh', '-c', `sleep 0.3; echo "child-ran sleeps=$(ps -eo args | grep -c '^sleep 30')" >> ${marker}; exit 3`],
    });
    expect(r.code).toBe(3);
    expect(readIfExists(marker)).toBe('child-ran sleeps=0\n');
    expect(r.elapsedMs).toBeLessThan(5000);
    expect(r.logs.find((l) => l.msg === 'hook timed out: its process group was killed')).toMatchObject({ event: 'pre-start', timeoutMs: 500 });
  });

  it('bounds the pre-stop phase by SCION_STOP_HOOK_TIMEOUT', async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    writeFileSync(join(hooks, 'pre-stop'), '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
    const run = startInit({
      pid1: true,
      env: { SCION_HOOKS_DIR: hooks, SCION_STOP_HOOK_TIMEOUT: '300ms' },
      args: ['init', '--', 'sleep', '30'],
    });
    const init = await run.initPid();
    await waitFor('the child', () => findDescendants(init, 'sleep').length > 0 || undefined);
    const sent = Date.now();
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(143);
    expect(Date.now() - sent).toBeLessThan(3000);
  });

  it('a stop during pre-start cancels the hook and never starts the child', async () => {
    const dir = tempDir();
    const hooks = join(dir, 'hooks');
    mkdirSync(hooks);
    const marker = join(dir, 'marker');
    writeFileSync(join(hooks, 'pre-start'), `#!/bin/sh\necho pre-start >> ${marker}\nsleep 30\n`, { mode: 0o755 });
    const run = startInit({ pid1: true, env: { SCION_HOOKS_DIR: hooks }, args: ['init', '--', 'sh', '-c', `echo child >> ${marker}`] });
    const init = await run.initPid();
    await waitFor('pre-start', () => readIfExists(marker).includes('pre-start'));
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(143);
    expect(readIfExists(marker)).toBe('pre-start\n');
    expect(r.elapsedMs).toBeLessThan(10_000);
  });
});

describe.runIf(isRoot)('hooks behind symlinks', () => {
  it('a root-owned symlink to an agent-owned script runs as the agent', async () => {
    const { symlinkSync } = await import('node:fs');
    const etc = makeFakeEtc();
    const { dir, log } = sharedLog();
    const agentDir = join(dir, 'agent-owned');
    mkdirSync(agentDir);
    hook(join(agentDir, 'script'), log, 'via-link');
    chownSync(agentDir, etc.uid, etc.gid);
    const sys = join(dir, 'hooks');
    mkdirSync(sys);
    symlinkSync(join(agentDir, 'script'), join(sys, 'pre-start'));
    const r = await runInit({ pid1: true, prelude: etc.prelude, env: { SCION_HOOKS_DIR: sys }, args: ['init', '--', 'true'] });
    expect(r.code).toBe(0);
    expect(readIfExists(log).trim()).toBe(`via-link uid=${etc.uid} event=pre-start token=none`);
  });
});
