import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, SA, api, createAgent, startHub } from '../helpers/hub-stub.js';

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub(['--offline-after', '300ms']);
});
afterAll(async () => {
  await hub.stop();
});

describe('admin API: create agent', () => {
  it('assign: 201 with a token and the full dispatch environment', async () => {
    const r = await api(hub, 'POST', '/api/v1/agents', {
      admin: hub.adminToken,
      body: { name: 'coder', projectId: 'my-project-123', metadataMode: 'assign', serviceAccountEmail: SA, unknownField: 1 },
    });
    expect(r.status).toBe(201);
    const b = r.body as { id: string; token: string; expiresAt: string; env: Record<string, string> };
    expect(b.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(b.expiresAt) - Date.now()).toBeGreaterThan(9.9 * 3600_000);
    expect(b.env).toEqual({
      SCION_HUB_ENDPOINT: hub.url,
      SCION_HUB_URL: hub.url,
      SCION_AGENT_ID: b.id,
      SCION_AGENT_NAME: 'coder',
      SCION_PROJECT_ID: 'my-project-123',
      SCION_GROVE_ID: 'my-project-123',
      SCION_AUTH_TOKEN: b.token,
      SCION_METADATA_MODE: 'assign',
      SCION_METADATA_PORT: '18380',
      SCION_METADATA_PROJECT_ID: 'my-project-123',
      SCION_METADATA_SA_EMAIL: SA,
      GCE_METADATA_HOST: '127.0.0.1:18380',
      GCE_METADATA_ROOT: '127.0.0.1:18380',
      GCE_METADATA_IP: '127.0.0.1:18380',
    });
  });

  it('block: metadata variables without an identity', async () => {
    const a = await createAgent(hub, { metadataMode: 'block' });
    expect(a.env.SCION_METADATA_MODE).toBe('block');
    expect(a.env.GCE_METADATA_HOST).toBe('127.0.0.1:18380');
    expect(a.env.SCION_METADATA_SA_EMAIL).toBeUndefined();
  });

  it('passthrough: no emulator variables', async () => {
    const a = await createAgent(hub, { metadataMode: 'passthrough' });
    expect(a.env.SCION_METADATA_MODE).toBe('passthrough');
    expect(Object.keys(a.env).filter((k) => k.startsWith('GCE_') || k === 'SCION_METADATA_PORT')).toEqual([]);
  });

  it('transport: a Google ID token for the hub URL (cloudrun_invoker) or the IAP client id', async () => {
    const run = await createAgent(hub, { transport: { mode: 'cloudrun_invoker' } });
    expect(run.env).toMatchObject({ SCION_TRANSPORT_MODE: 'cloudrun_invoker', SCION_TRANSPORT_AUDIENCE: hub.url });
    expect(run.env.SCION_TRANSPORT_TOKEN).toMatch(/^eyJ/);
    expect(Date.parse(run.env.SCION_TRANSPORT_TOKEN_EXPIRY as string) - Date.now()).toBeGreaterThan(3500_000);
    const iap = await createAgent(hub, { transport: { mode: 'iap', audience: '123-abc.apps.googleusercontent.com' } });
    expect(iap.env).toMatchObject({ SCION_TRANSPORT_MODE: 'iap', SCION_TRANSPORT_AUDIENCE: '123-abc.apps.googleusercontent.com' });
  });

  it.each([
    [{ metadataMode: 'assign' }, /needs a serviceAccountEmail/],
    [{ metadataMode: 'sometimes' }, /field "metadataMode" is "sometimes"; allowed: block, assign, passthrough/],
    [{ metadataMode: 'assign', serviceAccountEmail: 'not-an-email' }, /must be an email address/],
    [{ projectId: 'Bad_Project' }, /field "projectId"/],
    [{ tokenTtl: "2s" }, /field "tokenTtl"/],
    [{ tokenTtl: 'forever' }, /field "tokenTtl"/],
    [{ scopes: 'all' }, /field "scopes" must be an array/],
    [{ transport: 'iap' }, /field "transport" must be an object/],
    [{ transport: { mode: 'iap' } }, /needs an audience/],
    [{ transport: { mode: 'vpn' } }, /field "mode" is "vpn"/],
    [{ name: 3 }, /field "name" must be a string/],
  ])('400 for %j', async (body, re) => {
    const r = await api(hub, 'POST', '/api/v1/agents', { admin: hub.adminToken, body });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { code: 'validation_error' } });
    expect((r.body as { error: { message: string } }).error.message).toMatch(re);
  });

  it('400 for malformed JSON and for a JSON array', async () => {
    const bad = await api(hub, 'POST', '/api/v1/agents', { admin: hub.adminToken, raw: '{"metadataMode":' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_request' } });
    const arr = await api(hub, 'POST', '/api/v1/agents', { admin: hub.adminToken, raw: '[1]' });
    expect(arr.status).toBe(400);
  });

  it('413 for an oversized body, without reading it all', async () => {
    const r = await api(hub, 'POST', '/api/v1/agents', { admin: hub.adminToken, raw: JSON.stringify({ name: 'x'.repeat(100_000) }) });
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ error: { code: 'payload_too_large' } });
  });

  it('401 without, or with a wrong, admin token; an agent token is not an admin token', async () => {
    expect((await api(hub, 'POST', '/api/v1/agents', { body: {} })).body).toMatchObject({ error: { code: 'unauthorized', message: 'missing authorization header' } });
    expect((await api(hub, 'POST', '/api/v1/agents', { admin: 'nope', body: {} })).status).toBe(401);
    const a = await createAgent(hub);
    expect((await api(hub, 'POST', '/api/v1/agents', { bearer: a.token, body: {} })).status).toBe(401);
    expect((await api(hub, 'GET', `/api/v1/agents/${a.id}`, { agent: a.token })).status).toBe(401);
  });
});

describe('admin API: agents, keys, audit', () => {
  it('GET /api/v1/agents/{id}: phase, activity, message, lastSeen, counts; 404 for an unknown id', async () => {
    const a = await createAgent(hub);
    const r = await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: a.id, phase: 'created', counts: { statusUpdates: 0, heartbeats: 0 } });
    const missing = await api(hub, 'GET', '/api/v1/agents/00000000-0000-0000-0000-000000000000', { admin: hub.adminToken });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'not_found' } });
    const list = await api<{ agents: { id: string }[] }>(hub, 'GET', '/api/v1/agents', { admin: hub.adminToken });
    expect(list.body.agents.some((x) => x.id === a.id)).toBe(true);
  });

  it('a running agent silent for --offline-after becomes offline, and speaking brings it back', async () => {
    const a = await createAgent(hub);
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { phase: 'running', activity: 'working' } })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700));
    expect((await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body).toMatchObject({ phase: 'running', activity: 'offline' });
    await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { heartbeat: true } });
    expect((await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body).not.toMatchObject({ activity: 'offline' });
  });

  it('reset-auth mints a fresh working token; 404 for an unknown agent', async () => {
    const a = await createAgent(hub);
    const r = await api<{ token: string; expiresAt: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
    expect(r.status).toBe(200);
    expect(r.body.token).not.toBe(a.token);
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: r.body.token, body: { heartbeat: true } })).status).toBe(200);
    expect((await api(hub, 'POST', '/api/v1/agents/nope/reset-auth', { admin: hub.adminToken })).status).toBe(404);
  });

  it('lists signing keys and audit events; 405 on the wrong method', async () => {
    const keys = await api<{ keys: { kid: string; active: boolean }[] }>(hub, 'GET', '/api/v1/admin/signing-keys', { admin: hub.adminToken });
    expect(keys.body.keys.filter((k) => k.active)).toHaveLength(1);
    const audit = await api<{ events: unknown[] }>(hub, 'GET', '/api/v1/admin/audit', { admin: hub.adminToken });
    expect(Array.isArray(audit.body.events)).toBe(true);
    const wrong = await api(hub, 'GET', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(wrong.body).toMatchObject({ error: { code: 'method_not_allowed' } });
  });

  it('404 envelope for an unknown route', async () => {
    const r = await api(hub, 'GET', '/api/v2/whatever');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.body).toMatchObject({ error: { code: 'not_found' } });
  });
});
