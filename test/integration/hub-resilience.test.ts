import { type IncomingMessage, type ServerResponse, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFakeEtc } from '../helpers/fake-etc.js';
import { FakeHub } from '../helpers/fake-hub.js';
import { api, createAgent, startHub } from '../helpers/hub-stub.js';
import { isRoot, readIfExists, startInit, tempDir, waitFor } from '../helpers/init-harness.js';

interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
}

/** A recording reverse proxy in front of hub-stub, standing in for IAP / Cloud Run. */
async function recordingProxy(target: string): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const t = new URL(target);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ path: req.url ?? '', headers: req.headers });
    const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe.runIf(isRoot)('transport layer through init', () => {
  it('moves the injected token to a 0600 file, sends it in the Cloud Run header, and takes fresh ones from tokens[]', async () => {
    const hub = await startHub(['--log-level', 'warn']);
    const proxy = await recordingProxy(hub.url);
    try {
      const etc = makeFakeEtc();
      const a = await createAgent(hub, { transport: { mode: 'cloudrun_invoker' }, tokenTtl: '5s' });
      const injected = a.env.SCION_TRANSPORT_TOKEN as string;
      const run = startInit({
        pid1: true,
        prelude: etc.prelude,
        timeoutMs: 60_000,
        env: { ...a.env, SCION_HUB_ENDPOINT: proxy.url, SCION_HUB_URL: proxy.url, SCION_HEARTBEAT_INTERVAL: '200ms', SCION_METADATA_MODE: '' },
        args: ['init', '--grace-period', '1s', '--', 'sh', '-c', 'echo "file=$SCION_TRANSPORT_TOKEN_FILE"; env | grep -c "^SCION_TRANSPORT_TOKEN=" ; sleep 30'],
      });
      const init = await run.initPid();
      const file = join(etc.home, '.scion', 'transport-token');
      await waitFor('heartbeats through the proxy', () => proxy.seen.filter((s) => s.path.endsWith('/status')).length >= 2 || undefined);
      const st = statSync(file);
      expect([st.uid, st.mode & 0o777]).toEqual([etc.uid, 0o600]);
      expect(readFileSync(file, 'utf8').trim()).toBe(injected);
      const first = proxy.seen.find((s) => s.path.endsWith('/status'));
      expect(first?.headers['x-serverless-authorization']).toBe(`Bearer ${injected}`);
      expect(first?.headers['x-scion-agent-token']).toBeDefined();
      expect(first?.headers.authorization).toBeUndefined();
      // 5 s agent tokens refresh after about 4 s; the response's tokens[] carries a new transport token.
      await waitFor('a new transport token', () => { const t = readIfExists(file).trim(); return (t !== '' && t !== injected) || undefined; }, 10_000);
      const fresh = readIfExists(file).trim();
      await waitFor('the new token in use', () => proxy.seen.some((s) => s.headers['x-serverless-authorization'] === `Bearer ${fresh}`) || undefined);
      process.kill(init, 'SIGTERM');
      const r = await run.result;
      expect(r.stdout).toContain(`file=${file}`);
      expect(r.stdout.split('\n')[1]).toBe('0');
      expect(r.stderr).not.toContain(injected);
    } finally {
      await proxy.close();
      await hub.stop();
    }
  });
});

describe.runIf(isRoot)('Hub outage', () => {
  it('keeps the agent running, backs off without a busy loop, and recovers when the Hub is back', async () => {
    const state = tempDir();
    let hub = await startHub(['--state-dir', state, '--log-level', 'warn']);
    const port = Number(new URL(hub.url).port);
    const etc = makeFakeEtc();
    const a = await createAgent(hub, { tokenTtl: '6s' });
    const run = startInit({
      pid1: true,
      prelude: etc.prelude,
      timeoutMs: 90_000,
      env: { ...a.env, SCION_HEARTBEAT_INTERVAL: '250ms', SCION_REFRESH_BACKOFF_MAX: '2s', SCION_METADATA_MODE: '' },
      args: ['init', '--grace-period', '1s', '--', 'sleep', '60'],
    });
    const init = await run.initPid();
    const view = async () => (await api<{ counts: { heartbeats: number; tokenRefreshes: number } }>(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body;
    for (let i = 0; i < 100 && (await view()).counts.heartbeats < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await hub.stop();
    // The Hub's load balancer answers 503 while it is gone.
    const outage = new FakeHub(() => ({ status: 503, body: { error: { code: 'unavailable', message: 'down' } } }));
    await outage.start(port);
    await new Promise((r) => setTimeout(r, 5000));
    await outage.stop();
    const during = outage.requests.length;
    const refreshesDuring = outage.requests.filter((q) => q.path.endsWith('/token/refresh')).length;
    hub = await startHub(['--state-dir', state, '--log-level', 'warn', '--listen', `127.0.0.1:${port}`]);
    const before = (await view()).counts;
    let recovered = false;
    for (let i = 0; i < 200 && !recovered; i++) {
      const c = (await view()).counts;
      recovered = c.heartbeats > before.heartbeats + 1 && c.tokenRefreshes > before.tokenRefreshes;
      if (!recovered) await new Promise((r) => setTimeout(r, 50));
    }
    expect(recovered, 'heartbeats and a token refresh after the outage').toBe(true);
    expect(run.proc.exitCode).toBeNull();
    process.kill(init, 'SIGTERM');
    expect((await run.result).code).toBe(143);
    await hub.stop();
    // 5 s of outage: 20 heartbeat ticks (one attempt each, bounded by the tick) and a few
    // backed-off refreshes; a busy loop would be thousands.
    expect(during).toBeGreaterThan(5);
    expect(during).toBeLessThan(60);
    expect(refreshesDuring).toBeGreaterThanOrEqual(1);
    expect(refreshesDuring).toBeLessThanOrEqual(6);
  });
});
