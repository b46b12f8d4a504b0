import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeEtc, makeFakeEtc } from '../helpers/fake-etc.js';
import { type CreatedAgent, type RunningHub, api, createAgent, startHub } from '../helpers/hub-stub.js';
import { type RunningInit, findDescendants, isRoot, readIfExists, startInit, waitFor } from '../helpers/init-harness.js';

interface AgentView {
  phase: string;
  history: { phase: string }[];
  activity?: string;
  message?: string;
  exitCode?: number;
  counts: { heartbeats: number; tokenRefreshes: number; statusUpdates: number };
}

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub(['--log-level', 'warn']);
});
afterAll(async () => {
  await hub.stop();
});

const view = async (a: CreatedAgent) => (await api<AgentView>(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body;

function launch(a: CreatedAgent, etc: FakeEtc, extraEnv: Record<string, string>, argv: string[]): RunningInit {
  return startInit({
    pid1: true,
    prelude: etc.prelude,
    timeoutMs: 60_000,
    env: { ...a.env, SCION_HEARTBEAT_INTERVAL: '200ms', SCION_METADATA_MODE: '', ...extraEnv },
    args: ['init', '--grace-period', '2s', '--', ...argv],
  });
}

/** As the broker does it: the new token on stdin, written by the agent user, tmp + mv. */
function brokerWrite(etc: FakeEtc, token: string): void {
  const dir = join(etc.home, '.scion');
  execFileSync('setpriv', ['--reuid', String(etc.uid), '--regid', String(etc.gid), '--clear-groups', '--', 'sh', '-c', `cat > ${dir}/scion-token.tmp && mv ${dir}/scion-token.tmp ${dir}/scion-token`], { input: token });
}

describe.runIf(isRoot)('init with a Hub', () => {
  it('reports running, heartbeats, stopping, then stopped with the exit code; the token file is the agent\'s, 0600 in a 0700 directory', async () => {
    const etc = makeFakeEtc();
    const a = await createAgent(hub);
    const run = launch(a, etc, {}, ['sh', '-c', 'env | grep -c "^SCION_AUTH_TOKEN=" ; sleep 30']);
    const init = await run.initPid();
    const seen = await (async () => {
      for (let i = 0; i < 250; i++) {
        const v = await view(a);
        if (v.phase === 'running' && v.counts.heartbeats >= 2) return v;
        await new Promise((r) => setTimeout(r, 20));
      }
      return view(a);
    })();
    expect(seen).toMatchObject({ phase: 'running', message: 'Agent started' });
    expect(seen.counts.heartbeats).toBeGreaterThanOrEqual(2);
    const file = join(etc.home, '.scion', 'scion-token');
    const st = statSync(file);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([etc.uid, etc.gid, 0o600]);
    expect(statSync(join(etc.home, '.scion')).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8').trim()).toBe(a.token);
    await waitFor('the child', () => findDescendants(init, 'sleep').length > 0 || undefined);
    process.kill(init, 'SIGTERM');
    const r = await run.result;
    expect(r.code).toBe(143);
    expect(r.stdout.trim().split('\n')[0]).toBe('0');
    expect(await view(a)).toMatchObject({ phase: 'stopped', exitCode: 143, message: 'Agent stopped' });
    expect((await view(a)).history.map((h) => h.phase)).toEqual(['running', 'stopping', 'stopped']);
    expect(r.stderr).not.toContain(a.token);
  });

  it('reports error with the exit code when the child crashes', async () => {
    const etc = makeFakeEtc();
    const a = await createAgent(hub);
    const r = await launch(a, etc, {}, ['sh', '-c', 'sleep 0.3; exit 3']).result;
    expect(r.code).toBe(3);
    expect(await view(a)).toMatchObject({ phase: 'error', exitCode: 3, message: 'Agent crashed with exit code 3' });
  });

  const paths: [string, Record<string, string>, 'eperm' | 'signal' | 'none'][] = [
    ['the watcher (kill -USR2 1 fails with EPERM)', { SCION_TOKEN_RELOAD: 'watch', SCION_TOKEN_POLL_INTERVAL: '1h' }, 'eperm'],
    ['SIGUSR2 delivered', { SCION_TOKEN_RELOAD: 'signal' }, 'signal'],
    ['a 401 with neither watcher nor signal', { SCION_TOKEN_RELOAD: '401' }, 'none'],
  ];
  for (const [name, env, how] of paths) {
    it(`recovers from a key rotation within 1 s through ${name}`, async () => {
      const etc = makeFakeEtc();
      const a = await createAgent(hub);
      const run = launch(a, etc, env, ['sleep', '30']);
      const init = await run.initPid();
      for (let i = 0; i < 250 && (await view(a)).counts.heartbeats < 1; i++) await new Promise((r) => setTimeout(r, 20));
      await api(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: true } });
      // The old token is dead: heartbeats stop counting.
      await new Promise((r) => setTimeout(r, 500));
      const before = (await view(a)).counts.heartbeats;
      await new Promise((r) => setTimeout(r, 400));
      expect((await view(a)).counts.heartbeats).toBe(before);
      const reset = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
      brokerWrite(etc, reset.body.token);
      const written = Date.now();
      if (how === 'eperm') {
        const k = spawnSync('setpriv', ['--reuid', String(etc.uid), '--regid', String(etc.gid), '--clear-groups', '--', 'kill', '-USR2', String(init)], { encoding: 'utf8' });
        expect(k.status).not.toBe(0);
        expect(k.stderr).toMatch(/Operation not permitted/);
      } else if (how === 'signal') {
        process.kill(init, 'SIGUSR2');
      }
      let recoveredAt = 0;
      for (let i = 0; i < 200; i++) {
        if ((await view(a)).counts.heartbeats > before) {
          recoveredAt = Date.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(recoveredAt, 'the Hub saw an authenticated heartbeat again').toBeGreaterThan(0);
      expect(recoveredAt - written).toBeLessThan(1000);
      const logs = run.logsSoFar();
      expect(logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('adopted a new agent token')).map((l) => l.reason)).toEqual([
        how === 'eperm' ? 'watch' : how === 'signal' ? 'signal' : '401',
      ]);
      process.kill(init, 'SIGTERM');
      const r = await run.result;
      expect(r.code).toBe(143);
      expect(r.stderr).not.toContain(reset.body.token);
    });
  }

  it('reports AUTH_LOST once while the token is dead, and refreshes on its own before expiry', async () => {
    const etc = makeFakeEtc();
    const a = await createAgent(hub, { tokenTtl: '5s' });
    const run = launch(a, etc, { SCION_REFRESH_BACKOFF_MAX: '2s' }, ['sleep', '30']);
    const init = await run.initPid();
    const file = join(etc.home, '.scion', 'scion-token');
    // 5 s tokens refresh at their 80% point, about 4 s after issue.
    await waitFor('a refreshed token in the file', () => { const t = readIfExists(file).trim(); return (t !== '' && t !== a.token) || undefined; }, 8000);
    expect((await view(a)).counts.tokenRefreshes).toBeGreaterThanOrEqual(1);
    await api(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: true } });
    await waitFor('AUTH_LOST', () => run.logsSoFar().some((l) => typeof l.msg === 'string' && l.msg.startsWith('AUTH_LOST')) || undefined, 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(run.logsSoFar().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('AUTH_LOST'))).toHaveLength(1);
    const reset = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
    brokerWrite(etc, reset.body.token);
    await waitFor('auth restored', () => run.logsSoFar().some((l) => l.msg === 'auth restored: the Hub accepts the agent token again') || undefined, 10_000);
    process.kill(init, 'SIGTERM');
    expect((await run.result).code).toBe(143);
  });
});
