import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type JWK, SignJWT, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/init-harness.js';
import { type CreatedAgent, type RunningHub, SA, api, createAgent, startHub } from '../helpers/hub-stub.js';

interface StoredKey {
  kid: string;
  privateJwk: JWK;
  retiredAt?: string;
}

function activeKey(stateDir: string): StoredKey {
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { keys: StoredKey[]; activeKid: string };
  return state.keys.find((k) => k.kid === state.activeKid) as StoredKey;
}

/** Signs a token with the hub's own key, so each claim check can be hit on its own. */
async function forge(stateDir: string, agentId: string, edit: (j: SignJWT) => SignJWT, kid?: string, key?: CryptoKey): Promise<string> {
  const k = activeKey(stateDir);
  const signingKey = key ?? ((await importJWK(k.privateJwk, 'ES256')) as CryptoKey);
  const now = Math.floor(Date.now() / 1000);
  const base = new SignJWT({ scopes: ['agent:status:update', 'agent:token:refresh'] })
    .setProtectedHeader({ alg: 'ES256', kid: kid ?? k.kid, typ: 'JWT' })
    .setIssuer('scion-hub')
    .setAudience('scion-hub-api')
    .setSubject(agentId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .setJti(`forged-${Math.random()}`);
  return edit(base).sign(signingKey);
}

const status = (hub: RunningHub, a: { id: string }, token: string) => api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: token, body: { heartbeat: true } });

async function withHub<T>(dir: string, fn: (hub: RunningHub) => Promise<T>): Promise<T> {
  const hub = await startHub(['--state-dir', dir]);
  try {
    return await fn(hub);
  } finally {
    await hub.stop();
  }
}

describe('agent token checks', () => {
  it('accepts a well-formed token and refuses each bad claim with its reason', async () => {
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const now = Math.floor(Date.now() / 1000);
      expect((await status(hub, a, await forge(dir, a.id, (j) => j))).status).toBe(200);
      const cases: [string, (j: SignJWT) => SignJWT, RegExp][] = [
        ['expired', (j) => j.setIssuedAt(now - 7200).setNotBefore(now - 7200).setExpirationTime(now - 3600), /token has expired/],
        ['not yet valid', (j) => j.setNotBefore(now + 600), /claim check failed: .*nbf/],
        ['wrong audience', (j) => j.setAudience('someone-else'), /claim check failed: .*aud/],
        ['wrong issuer', (j) => j.setIssuer('evil-hub'), /claim check failed: .*iss/],
        ['unknown agent', (j) => j.setSubject('00000000-0000-0000-0000-000000000000'), /unknown agent/],
      ];
      for (const [what, edit, re] of cases) {
        const r = await api(hub, 'POST', '/api/v1/agents/00000000-0000-0000-0000-000000000000/status', { agent: await forge(dir, a.id, edit) });
        expect(r.status, what).toBe(401);
        expect((r.body as { error: { message: string } }).error.message, what).toMatch(re);
      }
    });
  });

  it('refuses a token signed by another key, with the hub\'s kid or an unknown one', async () => {
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const { privateKey } = await generateKeyPair('ES256');
      const sameKid = await status(hub, a, await forge(dir, a.id, (j) => j, undefined, privateKey));
      expect(sameKid.body).toMatchObject({ error: { message: 'invalid agent token: signature verification failed' } });
      const otherKid = await status(hub, a, await forge(dir, a.id, (j) => j, 'no-such-kid', privateKey));
      expect(otherKid.body).toMatchObject({ error: { message: 'invalid agent token: unknown signing key' } });
      // alg none is never accepted
      const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: a.id })).toString('base64url')}.`;
      expect((await status(hub, a, none)).status).toBe(401);
      void exportJWK;
    });
  });
});

describe('signing-key rotation', () => {
  it('without retireOld, old tokens keep working and new ones carry the new kid', async () => {
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const r = await api<{ kid: string; retired: string[] }>(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: false } });
      expect(r.status).toBe(200);
      expect(r.body.retired).toEqual([]);
      expect((await status(hub, a, a.token)).status).toBe(200);
      const fresh = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/token/refresh`, { agent: a.token });
      expect(decodeProtectedHeader(fresh.body.token).kid).toBe(r.body.kid);
      expect(decodeProtectedHeader(a.token).kid).not.toBe(r.body.kid);
    });
  });

  it('with retireOld, every older token fails at once; reset-auth gives the agent a working one', async () => {
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const oldKid = decodeProtectedHeader(a.token).kid;
      const r = await api<{ kid: string; retired: string[] }>(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: true } });
      expect(r.body.retired).toEqual([oldKid]);
      const dead = await status(hub, a, a.token);
      expect(dead.status).toBe(401);
      expect(dead.body).toMatchObject({ error: { message: 'invalid agent token: signing key has been retired' } });
      // The agent cannot refresh its way out: refresh needs a valid token.
      expect((await api(hub, 'POST', `/api/v1/agents/${a.id}/token/refresh`, { agent: a.token })).status).toBe(401);
      const reset = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
      expect((await status(hub, a, reset.body.token)).status).toBe(200);
      const jwks = await api<{ keys: { kid: string }[] }>(hub, 'GET', '/.well-known/jwks.json');
      expect(jwks.body.keys.map((k) => k.kid)).toEqual([r.body.kid]);
    });
  });
});

describe('revocation', () => {
  it('revoke refuses every token of that agent, and only that agent', async () => {
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const b = await createAgent(hub);
      const refreshed = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/token/refresh`, { agent: a.token });
      const r = await api<{ revoked: number }>(hub, 'POST', `/api/v1/agents/${a.id}/revoke`, { admin: hub.adminToken });
      expect(r.body.revoked).toBe(2);
      for (const t of [a.token, refreshed.body.token]) expect((await status(hub, a, t)).body).toMatchObject({ error: { message: 'invalid agent token: token has been revoked' } });
      expect((await status(hub, b, b.token)).status).toBe(200);
      const reset = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
      expect((await status(hub, a, reset.body.token)).status).toBe(200);
    });
  });
});

describe('--state-dir', () => {
  it('a restart keeps every issued token valid, revocations, agents, keys, admin token and audit log', async () => {
    const dir = tempDir();
    let a!: CreatedAgent;
    let revoked!: CreatedAgent;
    let adminToken = '';
    let retiredToken = '';
    await withHub(dir, async (hub) => {
      adminToken = hub.adminToken;
      const old = await createAgent(hub);
      retiredToken = old.token;
      await api(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: true } });
      a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA, name: 'survivor' });
      revoked = await createAgent(hub);
      await api(hub, 'POST', `/api/v1/agents/${revoked.id}/revoke`, { admin: hub.adminToken });
      await api(hub, 'POST', `/api/v1/agents/${a.id}/status`, { agent: a.token, body: { phase: 'running', message: 'before restart' } });
      await api(hub, 'POST', '/api/v1/agent/gcp-token', { agent: a.token });
    });
    await withHub(dir, async (hub) => {
      expect(hub.adminToken).toBe(adminToken);
      expect((await status(hub, a, a.token)).status).toBe(200);
      expect((await status(hub, revoked, revoked.token)).status).toBe(401);
      expect((await api(hub, 'POST', '/api/v1/agents/x/status', { agent: retiredToken })).body).toMatchObject({ error: { message: 'invalid agent token: signing key has been retired' } });
      const v = await api(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken });
      expect(v.body).toMatchObject({ name: 'survivor', phase: 'running', message: 'before restart', counts: { gcpTokens: 1 } });
      const audit = await api<{ events: { event: string }[] }>(hub, 'GET', `/api/v1/admin/audit?agent=${a.id}`, { admin: hub.adminToken });
      expect(audit.body.events.map((e) => e.event)).toEqual(['gcp_access_token']);
    });
  });

  it('refuses a corrupt state file with a clear message instead of starting empty', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'state.json'), '{"version":1,');
    await expect(startHub(['--state-dir', dir])).rejects.toThrow(/cannot read hub state .*state\.json/);
  });
});

describe('review regressions', () => {
  it('a client that holds its body back cannot outlive a revocation', async () => {
    const { connect } = await import('node:net');
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const u = new URL(hub.url);
      const sock = connect(Number(u.port), u.hostname);
      await new Promise((r) => sock.once('connect', r));
      let answer = '';
      sock.on('data', (d: Buffer) => (answer += d.toString()));
      sock.write(`POST /api/v1/agents/${a.id}/token/refresh HTTP/1.1\r\nHost: x\r\nX-Scion-Agent-Token: ${a.token}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 200));
      await api(hub, 'POST', `/api/v1/agents/${a.id}/revoke`, { admin: hub.adminToken });
      sock.write('{}');
      await new Promise((r) => setTimeout(r, 300));
      sock.destroy();
      expect(answer).toMatch(/^HTTP\/1\.1 401/);
    });
  });

  it('a refreshed token is revocable even after the hub is SIGKILLed right after issuing it', async () => {
    const dir = tempDir();
    const hub = await startHub(['--state-dir', dir]);
    const a = await createAgent(hub);
    const fresh = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/token/refresh`, { agent: a.token });
    // SIGKILL the hub itself (not the timeout(1) wrapper): no chance to flush anything.
    const { descendants } = await import('../../src/supervisor/process-tree.js');
    const node = descendants(hub.proc.pid as number).find((p) => p.comm === 'node' || p.comm === 'MainThread');
    process.kill(node?.pid as number, 'SIGKILL');
    await new Promise((r) => hub.proc.once('close', r));
    await withHub(dir, async (h2) => {
      expect((await api<{ revoked: number }>(h2, 'POST', `/api/v1/agents/${a.id}/revoke`, { admin: h2.adminToken })).body.revoked).toBe(2);
      expect((await status(h2, a, fresh.body.token)).status).toBe(401);
    });
  });

  it('refuses HS256 tokens keyed with the public key (algorithm confusion)', async () => {
    const { createHmac } = await import('node:crypto');
    const dir = tempDir();
    await withHub(dir, async (hub) => {
      const a = await createAgent(hub);
      const jwks = await api<{ keys: Record<string, unknown>[] }>(hub, 'GET', '/.well-known/jwks.json');
      const pub = JSON.stringify(jwks.body.keys[0]);
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const now = Math.floor(Date.now() / 1000);
      const head = enc({ alg: 'HS256', typ: 'JWT', kid: jwks.body.keys[0]?.kid });
      const body = enc({ iss: 'scion-hub', aud: 'scion-hub-api', sub: a.id, iat: now, nbf: now, exp: now + 600, jti: 'x', scopes: ['agent:status:update'] });
      const sig = createHmac('sha256', pub).update(`${head}.${body}`).digest('base64url');
      expect((await status(hub, a, `${head}.${body}.${sig}`)).status).toBe(401);
    });
  });
});
