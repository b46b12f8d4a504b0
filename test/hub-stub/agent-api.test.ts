import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, SA, api, createAgent, startHub } from '../helpers/hub-stub.js';

let hub: RunningHub;
beforeAll(async () => {
  hub = await startHub();
});
afterAll(async () => {
  await hub.stop();
});

describe('POST /api/v1/agents/{id}/status', () => {
  it('200 with an empty body; updates phase, activity, message, counts and lastSeen; ignores unknown fields', async () => {
    const a = await createAgent(hub);
    const r = await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, {
      agent: a.token,
      body: { phase: 'running', activity: 'working', message: 'Agent started', status: 'working', currentTurns: 3, somethingNew: { x: 1 } },
    });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { heartbeat: true } });
    const v = await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken });
    expect(v.body).toMatchObject({ phase: 'running', activity: 'working', message: 'Agent started', counts: { statusUpdates: 2, heartbeats: 1, currentTurns: 3 } });
    expect(Date.now() - Date.parse((v.body as { lastSeen: string }).lastSeen)).toBeLessThan(5000);
  });

  it('records stopped with the exit code', async () => {
    const a = await createAgent(hub);
    await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { phase: 'stopped', exitCode: 143, message: 'Agent stopped' } });
    expect((await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body).toMatchObject({ phase: 'stopped', exitCode: 143 });
  });

  it('accepts the token as Authorization: Bearer too', async () => {
    const a = await createAgent(hub);
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { bearer: a.token, body: {} })).status).toBe(200);
  });

  it('X-Scion-Agent-Token wins over Authorization: an invalid one is 401 even with a valid Bearer', async () => {
    const a = await createAgent(hub);
    const r = await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: 'garbage', bearer: a.token, body: {} });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ error: { code: 'unauthorized', message: 'invalid agent token: malformed token' } });
  });

  it('401 without a token', async () => {
    const a = await createAgent(hub);
    const r = await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { body: {} });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: { code: 'unauthorized', message: 'missing authorization header' } });
  });

  it('403 for another agent\'s status, and without the scope', async () => {
    const a = await createAgent(hub);
    const b = await createAgent(hub);
    const other = await api(hub, 'POST', `/api/v1/agents/${b.id}/status`, { agent: a.token, body: {} });
    expect(other.status).toBe(403);
    expect(other.body).toEqual({ error: { code: 'forbidden', message: 'Agents can only update their own status' } });
    const noScope = await createAgent(hub, { scopes: ['agent:token:refresh'] });
    const r = await api(hub, 'POST', `/api/v1/agents/${noScope.id}/status`, { agent: noScope.token, body: {} });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: { code: 'forbidden', message: 'Missing required scope: agent:status:update' } });
  });

  it('400 for an unknown phase, a wrong type, or malformed JSON; 405 for GET', async () => {
    const a = await createAgent(hub);
    const phase = await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { phase: 'dancing' } });
    expect(phase.status).toBe(400);
    expect(phase.body).toMatchObject({ error: { code: 'validation_error' } });
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { heartbeat: 'yes' } })).status).toBe(400);
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, raw: '{' })).status).toBe(400);
    expect((await api(hub, 'GET', `/api/v1/agents/${a.id}/status`, { agent: a.token })).status).toBe(405);
  });
});

describe('POST /api/v1/agents/{id}/token/refresh', () => {
  it('returns token, expires_at and tokens[] with the app layer; the new token works', async () => {
    const a = await createAgent(hub);
    const r = await api<{ token: string; expires_at: string; tokens: { layer: string; type: string; value: string; expiresIn: number }[] }>(
      hub,
      'POST',
      `/api/v1/agents/${a.id}/token/refresh`,
      { agent: a.token },
    );
    expect(r.status).toBe(200);
    expect(r.body.expires_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(r.body.tokens).toHaveLength(1);
    expect(r.body.tokens[0]).toMatchObject({ layer: 'app', type: 'scion_access', value: r.body.token });
    expect(r.body.tokens[0]?.expiresIn).toBeGreaterThan(35_000);
    expect(decodeJwt(r.body.token).jti).not.toBe(decodeJwt(a.token).jti);
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: r.body.token, body: {} })).status).toBe(200);
  });

  it('adds a transport entry for agents with transport auth', async () => {
    const a = await createAgent(hub, { transport: { mode: 'iap', audience: '42-x.apps.googleusercontent.com' } });
    const r = await api<{ tokens: { layer: string; type: string; value: string; audience?: string; expiresIn: number }[] }>(
      hub,
      'POST',
      `/api/v1/agents/${a.id}/token/refresh`,
      { agent: a.token },
    );
    const t = r.body.tokens.find((x) => x.layer === 'transport');
    expect(t).toMatchObject({ type: 'google_oidc', audience: '42-x.apps.googleusercontent.com' });
    expect(t?.expiresIn).toBeGreaterThan(3500);
    expect(decodeJwt(t?.value as string)).toMatchObject({ aud: '42-x.apps.googleusercontent.com', iss: 'https://accounts.google.com' });
  });

  it('403 for another agent, 403 without the scope, 401 with a bad token', async () => {
    const a = await createAgent(hub);
    const b = await createAgent(hub);
    expect((await api(hub, 'POST', `/api/v1/agents/${b.id}/token/refresh`, { agent: a.token })).body).toEqual({
      error: { code: 'forbidden', message: 'agents can only refresh their own token' },
    });
    const c = await createAgent(hub, { scopes: ['agent:status:update'] });
    expect((await api(hub, 'POST', `/api/v1/agents/${c.id}/token/refresh`, { agent: c.token })).body).toEqual({
      error: { code: 'forbidden', message: 'missing required scope: agent:token:refresh' },
    });
    expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/token/refresh`, { agent: `${a.token}x` })).status).toBe(401);
  });
});

describe('GCP endpoints', () => {
  it('gcp-token: an access token for the requested scopes, minted by IAM for the assigned SA', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const scopes = ['https://www.googleapis.com/auth/devstorage.read_only', 'https://www.googleapis.com/auth/userinfo.email'];
    const r = await api<{ access_token: string; expires_in: number; token_type: string }>(hub, 'POST', '/api/v1/agent/gcp-token', { bearer: a.token, body: { scopes } });
    expect(r.status).toBe(200);
    expect(r.body.token_type).toBe('Bearer');
    expect(r.body.expires_in).toBeGreaterThan(3500);
    expect(r.body.access_token).toMatch(/^ya29\./);
    const info = (await (await fetch(`${hub.iamUrl}/tokeninfo?access_token=${r.body.access_token}`)).json()) as Record<string, string>;
    expect(info.email).toBe(SA);
    expect(info.scope).toBe(scopes.join(' '));
  });

  it('gcp-token: cloud-platform when no scopes are asked for', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const r = await api<{ access_token: string }>(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
    const info = (await (await fetch(`${hub.iamUrl}/tokeninfo?access_token=${r.body.access_token}`)).json()) as Record<string, string>;
    expect(info.scope).toBe('https://www.googleapis.com/auth/cloud-platform');
  });

  it('gcp-identity-token: a Google-signed ID token that verifies against the emulator JWKS', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const r = await api<{ token: string }>(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: a.token, body: { audience: 'https://svc.example.com' } });
    expect(r.status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${hub.iamUrl}/oauth2/v3/certs`));
    const { payload, protectedHeader } = await jwtVerify(r.body.token, jwks, { issuer: 'https://accounts.google.com', audience: 'https://svc.example.com' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ email: SA, email_verified: true });
    expect(payload.sub).toMatch(/^\d{21}$/);
    expect(payload.azp).toBe(payload.sub);
    expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
  });

  it('403 in block mode, 403 without the GCP scope, 401 without a token', async () => {
    const blocked = await createAgent(hub, { metadataMode: 'block' });
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: blocked.token })).body).toEqual({ error: { code: 'forbidden', message: 'no GCP identity assigned' } });
    const noScope = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA, scopes: ['agent:status:update'] });
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: noScope.token, body: { audience: 'x' } })).body).toEqual({
      error: { code: 'forbidden', message: 'missing required GCP token scope' },
    });
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-token', {})).status).toBe(401);
  });

  it('400 for a bad scopes field, a missing audience and malformed JSON; 405 for GET', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token, body: { scopes: 'cloud-platform' } })).status).toBe(400);
    const noAud = await api(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: a.token, body: {} });
    expect(noAud.body).toEqual({ error: { code: 'invalid_request', message: 'audience is required' } });
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: a.token, raw: 'nope' })).body).toMatchObject({ error: { code: 'invalid_request' } });
    expect((await api(hub, 'GET', '/api/v1/agent/gcp-token', { agent: a.token })).status).toBe(405);
  });

  it('502 when IAM refuses (a service account that does not exist)', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: 'someone@example.com' });
    const r = await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
    expect(r.status).toBe(502);
    expect(r.body).toMatchObject({ error: { code: 'gcp_token_failed' } });
    expect((r.body as { error: { message: string } }).error.message).toMatch(/Gaia id not found/);
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: a.token, body: { audience: 'x' } })).status).toBe(502);
  });

  it('429 rate_limited with Retry-After after a burst of 10, per agent, shared by both endpoints', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const b = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const path = i % 2 === 0 ? '/api/v1/agent/gcp-token' : '/api/v1/agent/gcp-identity-token';
      statuses.push((await api(hub, 'POST', path, { agent: a.token, body: { audience: 'x' } })).status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    const last = await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
    expect(last.status).toBe(429);
    expect(last.body).toEqual({ error: { code: 'rate_limited', message: 'rate limit exceeded for GCP token requests' } });
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another agent has its own bucket.
    expect((await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: b.token })).status).toBe(200);
  });

  it('audits every decision, with no token in the audit log', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA });
    const ok = await api<{ access_token: string }>(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
    await api(hub, 'POST', '/api/v1/agent/gcp-identity-token', { agent: a.token, body: {} });
    const audit = await api<{ events: Record<string, unknown>[] }>(hub, 'GET', `/api/v1/admin/audit?agent=${a.id}`, { admin: hub.adminToken });
    expect(audit.body.events).toEqual([
      expect.objectContaining({ event: 'gcp_access_token', agentId: a.id, projectId: 'scion-demo-project', serviceAccount: SA, success: true }),
      expect.objectContaining({ event: 'gcp_identity_token', agentId: a.id, success: false, reason: 'audience is required' }),
    ]);
    expect(audit.text).not.toContain(ok.body.access_token);
    expect(audit.text).not.toContain(a.token);
  });
});

describe('hub-stub with --iam none', () => {
  it('503 gcp_not_configured', async () => {
    const bare = await startHub(['--iam', 'none']);
    try {
      const a = await createAgent(bare, { metadataMode: 'assign', serviceAccountEmail: SA });
      const r = await api(bare, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { code: 'gcp_not_configured' } });
      const t = await api(bare, 'POST', '/api/v1/agents', { admin: bare.adminToken, body: { transport: { mode: 'cloudrun_invoker' } } });
      expect(t.status).toBe(502);
      // Nothing half-created: the failed agent is not listed.
      const list = await api<{ agents: unknown[] }>(bare, 'GET', '/api/v1/agents', { admin: bare.adminToken });
      expect(list.body.agents).toHaveLength(1);
    } finally {
      await bare.stop();
    }
  });
});
