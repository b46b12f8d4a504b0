import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentToken } from '../../src/credentials/agent-token.js';
import { RefreshLoop } from '../../src/credentials/refresh-loop.js';
import { TokenFile } from '../../src/credentials/token-file.js';
import { HubClient, type HubError } from '../../src/hub/client.js';
import { FileTransport, MetadataTransport, NoTransport, type TransportSource } from '../../src/hub/transport.js';
import { createLogger } from '../../src/log.js';
import { Redactor } from '../../src/util/redact.js';
import { type FakeHub, fakeJwt, useFakeHubs } from '../helpers/fake-hub.js';
import { tempDir } from '../helpers/init-harness.js';

const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
const fake = useFakeHubs(afterEach);

function setup(hub: FakeHub, opts: { transport?: TransportSource; token?: string; timeoutMs?: number; reloadOn401?: boolean } = {}) {
  const dir = tempDir();
  const agentToken = new AgentToken(new TokenFile(join(dir, 'scion-token'), undefined), log);
  agentToken.bootstrap(opts.token ?? fakeJwt(3600));
  const client = new HubClient({
    endpoint: hub.url,
    agentToken,
    transport: opts.transport ?? new NoTransport(),
    timeoutMs: opts.timeoutMs ?? 2000,
    reloadOn401: opts.reloadOn401 ?? true,
    log,
  });
  return { dir, agentToken, client };
}

const quick = { retries: 4, backoff: { baseMs: 20, capMs: 100 } };

describe('HubClient', () => {
  it('sends X-Scion-Agent-Token and JSON on every call', async () => {
    const hub = await fake(() => ({ status: 200 }));
    const { client, agentToken } = setup(hub);
    await client.call('POST', '/api/v1/agents/a/status', { heartbeat: true }, quick);
    expect(hub.requests[0]?.headers['x-scion-agent-token']).toBe(agentToken.current);
    expect(hub.requests[0]?.headers['content-type']).toBe('application/json');
    expect(hub.requests[0]?.headers.authorization).toBeUndefined();
    expect(JSON.parse(hub.requests[0]?.body ?? '')).toEqual({ heartbeat: true });
    await client.close();
  });

  it('retries network errors and 5xx with backoff, then succeeds', async () => {
    let n = 0;
    const hub = await fake(() => (++n === 1 ? 'reset' : n === 2 ? { status: 503 } : { status: 200 }));
    const { client } = setup(hub);
    await client.call('POST', '/x', {}, quick);
    expect(hub.requests).toHaveLength(3);
    await client.close();
  });

  it('never retries other 4xx', async () => {
    for (const status of [400, 403, 404, 409]) {
      const hub = await fake(() => ({ status, body: { error: { code: 'nope', message: 'no' } } }));
      const { client } = setup(hub);
      const err = (await client.call('POST', '/x', {}, quick).catch((e: unknown) => e)) as HubError;
      expect(err.status).toBe(status);
      expect(err.code).toBe('nope');
      expect(hub.requests).toHaveLength(1);
      await client.close();
    }
  });

  it('honours Retry-After on 429', async () => {
    let n = 0;
    const hub = await fake(() => (++n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const { client } = setup(hub);
    await client.call('POST', '/x', {}, { retries: 2, backoff: { baseMs: 10, capMs: 5000 } });
    expect(hub.requests).toHaveLength(2);
    const gap = (hub.requests[1]?.at ?? 0) - (hub.requests[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(950);
    await client.close();
  });

  it('gives up at the deadline instead of retrying forever', async () => {
    const hub = await fake(() => ({ status: 503 }));
    const { client } = setup(hub);
    const t = Date.now();
    await expect(client.call('POST', '/x', {}, { retries: 100, backoff: { baseMs: 50, capMs: 200 }, deadline: Date.now() + 600 })).rejects.toThrow(/503/);
    expect(Date.now() - t).toBeLessThan(1000);
    await client.close();
  });

  it('times out a Hub that never answers', async () => {
    const hub = await fake(() => 'hang');
    const { client } = setup(hub, { timeoutMs: 300 });
    const t = Date.now();
    await expect(client.call('POST', '/x', {}, { retries: 0, backoff: { baseMs: 10, capMs: 10 } })).rejects.toThrow();
    expect(Date.now() - t).toBeLessThan(2000);
    await client.close();
  });

  it('on 401 re-reads the token file and retries once with a different token', async () => {
    const fresh = fakeJwt(3600);
    const hub = await fake((r) => (r.headers['x-scion-agent-token'] === fresh ? { status: 200 } : { status: 401, body: { error: { code: 'unauthorized', message: 'bad' } } }));
    const { client, agentToken } = setup(hub);
    agentToken.file.write(fresh); // as a broker would, behind the client's back
    await client.call('POST', '/x', {}, quick);
    expect(hub.requests.map((r) => r.headers['x-scion-agent-token'] === fresh)).toEqual([false, true]);
    // Unchanged file: no retry loop.
    const hub2 = await fake(() => ({ status: 401 }));
    const s2 = setup(hub2);
    await expect(s2.client.call('POST', '/x', {}, quick)).rejects.toMatchObject({ status: 401 });
    expect(hub2.requests).toHaveLength(1);
    await client.close();
    await s2.client.close();
  });
});

describe('transport layer', () => {
  const cases: ['iap' | 'cloudrun_invoker' | 'bearer', string][] = [
    ['iap', 'proxy-authorization'],
    ['cloudrun_invoker', 'x-serverless-authorization'],
    ['bearer', 'authorization'],
  ];
  for (const [mode, header] of cases) {
    it(`${mode}: the outer token goes in ${header}, the app token stays in X-Scion-Agent-Token`, async () => {
      const hub = await fake(() => ({ status: 200 }));
      const outer = fakeJwt(3600, { aud: 'hub' });
      const dir = tempDir();
      const tf = new TokenFile(join(dir, 'transport-token'), undefined);
      tf.write(outer);
      const { client, agentToken } = setup(hub, { transport: new FileTransport(tf, mode, log) });
      await client.call('POST', '/x', {}, quick);
      expect(hub.requests[0]?.headers[header]).toBe(`Bearer ${outer}`);
      expect(hub.requests[0]?.headers['x-scion-agent-token']).toBe(agentToken.current);
      await client.close();
    });
  }

  it('the metadata source fetches an ID token for the audience, caches it, and sends none when it fails', async () => {
    const idToken = fakeJwt(3600, { aud: 'https://hub' });
    const { createServer } = await import('node:http');
    const asked: string[] = [];
    // The real metadata server answers the raw JWT as text, and only with Metadata-Flavor.
    const md = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(req.headers['metadata-flavor'] === 'Google' ? 200 : 403, { 'content-type': 'text/plain', 'metadata-flavor': 'Google' });
      res.end(idToken);
    });
    await new Promise<void>((r) => md.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(md.address() as { port: number }).port}`;
    const hub = await fake(() => ({ status: 200 }));
    const { client } = setup(hub, { transport: new MetadataTransport(host, 'https://hub', 'cloudrun_invoker', log) });
    await client.call('POST', '/x', {}, quick);
    await client.call('POST', '/x', {}, quick);
    expect(hub.requests.map((r) => r.headers['x-serverless-authorization'])).toEqual([`Bearer ${idToken}`, `Bearer ${idToken}`]);
    expect(asked).toEqual(['/computeMetadata/v1/instance/service-accounts/default/identity?audience=https%3A%2F%2Fhub&format=full']);
    md.closeAllConnections();
    await new Promise<void>((r) => md.close(() => r()));
    await client.close();
    // A metadata server that is gone: the call still goes out, without the header.
    const hub3 = await fake(() => ({ status: 200 }));
    const s3 = setup(hub3, { transport: new MetadataTransport('127.0.0.1:9', 'https://hub', 'iap', log) });
    await s3.client.call('POST', '/x', {}, quick);
    expect(hub3.requests[0]?.headers['proxy-authorization']).toBeUndefined();
    await s3.client.close();
  });

  it('refresh: tokens[] updates each layer; a Hub without tokens[] keeps working', async () => {
    const newApp = fakeJwt(3600);
    const newOuter = fakeJwt(3600, { aud: 'hub' });
    const hub = await fake(() => ({
      status: 200,
      body: { token: newApp, expires_at: new Date().toISOString(), tokens: [{ layer: 'app', type: 'scion_access', value: newApp, expiresIn: 3600 }, { layer: 'transport', type: 'google_oidc', value: newOuter, expiresIn: 3600, audience: 'hub' }] },
    }));
    const dir = tempDir();
    const tf = new TokenFile(join(dir, 'transport-token'), undefined);
    tf.write(fakeJwt(3600));
    const transport = new FileTransport(tf, 'iap', log);
    // An app token close to expiry: the loop refreshes at once.
    const { client, agentToken } = setup(hub, { transport, token: fakeJwt(1) });
    const loop = new RefreshLoop({ client, agentId: 'agent-1', agentToken, transport, transportToken: () => (tf.read() as { token: string }).token, backoff: { baseMs: 50, capMs: 100 }, log, onAuthLost: () => {}, onAuthRestored: () => {} });
    loop.start();
    await new Promise((r) => setTimeout(r, 300));
    loop.stop();
    expect(agentToken.current).toBe(newApp);
    expect((agentToken.file.read() as { token: string }).token).toBe(newApp);
    expect((tf.read() as { token: string }).token).toBe(newOuter);
    await client.close();

    const oldHub = await fake(() => ({ status: 200, body: { token: newApp, expires_at: new Date().toISOString() } }));
    const s = setup(oldHub, { token: fakeJwt(1) });
    const loop2 = new RefreshLoop({ client: s.client, agentId: 'agent-1', agentToken: s.agentToken, transport: new NoTransport(), transportToken: () => undefined, backoff: { baseMs: 50, capMs: 100 }, log, onAuthLost: () => {}, onAuthRestored: () => {} });
    loop2.start();
    await new Promise((r) => setTimeout(r, 300));
    loop2.stop();
    expect(s.agentToken.current).toBe(newApp);
    await s.client.close();
  });

  it('refresh failures back off (no busy loop) and 401 reports AUTH_LOST once', async () => {
    const hub = await fake(() => ({ status: 401, body: { error: { code: 'unauthorized', message: 'x' } } }));
    const { client, agentToken } = setup(hub, { token: fakeJwt(1), reloadOn401: false });
    let lost = 0;
    const loop = new RefreshLoop({ client, agentId: 'a', agentToken, transport: new NoTransport(), transportToken: () => undefined, backoff: { baseMs: 100, capMs: 400 }, log, onAuthLost: () => lost++, onAuthRestored: () => {} });
    loop.start();
    await new Promise((r) => setTimeout(r, 1500));
    loop.stop();
    expect(lost).toBe(1);
    // Floor of 100 ms, ceiling growing to 400 ms: between 4 and 15 attempts in 1.5 s.
    expect(hub.requests.length).toBeGreaterThanOrEqual(3);
    expect(hub.requests.length).toBeLessThanOrEqual(15);
    await client.close();
  });
});
