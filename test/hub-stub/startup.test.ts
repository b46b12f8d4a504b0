import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NODE_BIN_DIR } from '../helpers/init-harness.js';
import { HUB_BUNDLE, api, startHub } from '../helpers/hub-stub.js';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync('timeout', ['-s', 'KILL', '20', HUB_BUNDLE, ...args], { env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}`, ...env }, encoding: 'utf8' });
}

describe('hub-stub start-up', () => {
  it('prints exactly one JSON line with url and adminToken, logs to stderr, stops on SIGTERM', async () => {
    const hub = await startHub();
    const lines = hub.stdout().split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(Object.keys(JSON.parse(lines[0] as string)).sort()).toEqual(['adminToken', 'url']);
    expect(hub.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await api(hub, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect(hub.logs().some((l) => l.msg === 'hub-stub ready')).toBe(true);
    expect(await hub.stop()).toBe(0);
    expect(hub.stdout().split('\n').filter((l) => l !== '')).toHaveLength(1);
  });

  it('takes the admin token from HUB_STUB_ADMIN_TOKEN', async () => {
    const hub = await startHub([], { HUB_STUB_ADMIN_TOKEN: 'a-very-long-admin-token-123' });
    expect(hub.adminToken).toBe('a-very-long-admin-token-123');
    expect((await api(hub, 'GET', '/api/v1/agents', { admin: 'a-very-long-admin-token-123' })).status).toBe(200);
    await hub.stop();
  });

  it.each([
    [['--listen', 'localhost'], /invalid --listen "localhost"/],
    [['--iam', 'ftp://x'], /invalid --iam "ftp:\/\/x"/],
    [['--iam', 'sometimes'], /invalid --iam "sometimes"/],
    [['--offline-after', 'soon'], /invalid --offline-after "soon"/],
    [['--token-ttl', '5s'], /invalid --token-ttl "5s"/],
    [['--frob'], /unknown option "--frob"/],
    [['--state-dir'], /--state-dir needs a value/],
  ])('refuses %j with exit 2 and one line', (args, re) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(re);
    expect(r.stdout).toBe('');
  });

  it('refuses a short HUB_STUB_ADMIN_TOKEN', () => {
    const r = run(['--listen', '127.0.0.1:0'], { HUB_STUB_ADMIN_TOKEN: 'short' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/at least 16 characters/);
  });

  it('says clearly when the port is taken', async () => {
    const hub = await startHub();
    const port = new URL(hub.url).port;
    const r = run(['--listen', `127.0.0.1:${port}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`));
    await hub.stop();
  });
});
