import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentToken } from '../../src/credentials/agent-token.js';
import { TokenFile } from '../../src/credentials/token-file.js';
import { HubClient } from '../../src/hub/client.js';
import { NoTransport } from '../../src/hub/transport.js';
import { createLogger } from '../../src/log.js';
import { HubTokenSource, TokenUnavailable } from '../../src/metadata/identity-tokens.js';
import { Redactor } from '../../src/util/redact.js';
import { type Responder, fakeJwt, useFakeHubs } from '../helpers/fake-hub.js';
import { tempDir } from '../helpers/init-harness.js';

const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
const fake = useFakeHubs(afterEach);

async function source(respond: Responder) {
  const hub = await fake(respond);
  const agentToken = new AgentToken(new TokenFile(join(tempDir(), 'scion-token'), undefined), log);
  agentToken.bootstrap(fakeJwt(3600));
  const client = new HubClient({ endpoint: hub.url, agentToken, transport: new NoTransport(), timeoutMs: 2000, reloadOn401: true, log });
  return { hub, client, tokens: new HubTokenSource(client, log, ['https://www.googleapis.com/auth/cloud-platform']) };
}

describe('HubTokenSource', () => {
  it('200 concurrent misses make one Hub call', async () => {
    let n = 0;
    const { hub, tokens, client } = await source(() => ({ status: 200, body: { access_token: `ya29.t${++n}`, expires_in: 3600, token_type: 'Bearer' } }));
    const results = await Promise.all(Array.from({ length: 200 }, () => tokens.accessToken([])));
    expect(hub.requests.filter((r) => r.path === '/api/v1/agent/gcp-token')).toHaveLength(1);
    expect(new Set(results.map((r) => r.token))).toEqual(new Set(['ya29.t1']));
    tokens.close();
    await client.close();
  });

  it('caches per scope set (order and duplicates do not matter) and forwards the scopes', async () => {
    const { hub, tokens, client } = await source((r) => ({ status: 200, body: { access_token: `ya29.${(JSON.parse(r.body) as { scopes: string[] }).scopes.join('|')}`, expires_in: 3600 } }));
    const a = await tokens.accessToken(['s2', 's1']);
    const b = await tokens.accessToken(['s1', 's2', 's1']);
    const c = await tokens.accessToken([]);
    expect(a.token).toBe('ya29.s1|s2');
    expect(b.token).toBe(a.token);
    expect(c.token).toBe('ya29.https://www.googleapis.com/auth/cloud-platform');
    expect(hub.requests).toHaveLength(2);
    tokens.close();
    await client.close();
  });

  it('expires_in counts down; a token with under 10 minutes left is replaced before it is served', async () => {
    let n = 0;
    const { hub, tokens, client } = await source(() => ({ status: 200, body: { access_token: `ya29.t${++n}`, expires_in: n === 1 ? 500 : 3600 } }));
    // What the Hub gives is served, even a short one...
    const short = await tokens.accessToken([]);
    expect([short.token, short.expiresIn <= 500]).toEqual(['ya29.t1', true]);
    // ...but a cached token under the 600 s floor is replaced before it is served again.
    const first = await tokens.accessToken([]);
    expect(first.token).toBe('ya29.t2');
    expect(first.expiresIn).toBeGreaterThan(3590);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await tokens.accessToken([]);
    expect(again.token).toBe('ya29.t2');
    expect(again.expiresIn).toBeLessThan(first.expiresIn);
    expect(hub.requests).toHaveLength(2);
    tokens.close();
    await client.close();
  });

  it('a Hub failure with nothing cached is TokenUnavailable (the server answers 503)', async () => {
    const { tokens, client } = await source(() => ({ status: 502, body: { error: { code: 'gcp_token_failed', message: 'x' } } }));
    await expect(tokens.accessToken([])).rejects.toBeInstanceOf(TokenUnavailable);
    await expect(tokens.idToken('aud', 'full')).rejects.toBeInstanceOf(TokenUnavailable);
    tokens.close();
    await client.close();
  });

  it('ID tokens are cached per (audience, format), with their own expiry', async () => {
    let n = 0;
    const { hub, tokens, client } = await source(() => ({ status: 200, body: { token: fakeJwt(3600, { n: ++n }) } }));
    const a = await tokens.idToken('aud1', 'full');
    expect(await tokens.idToken('aud1', 'full')).toBe(a);
    await tokens.idToken('aud2', 'full');
    await tokens.idToken('aud1', 'standard');
    expect(hub.requests).toHaveLength(3);
    tokens.close();
    await client.close();
  });
});

describe('HubTokenSource bounds', () => {
  it('keeps at most 64 scope sets, dropping the oldest', async () => {
    let n = 0;
    const { hub, tokens, client } = await source(() => ({ status: 200, body: { access_token: `ya29.t${++n}`, expires_in: 3600 } }));
    for (let i = 0; i < 70; i++) await tokens.accessToken([`scope-${i}`]);
    expect(hub.requests).toHaveLength(70);
    await tokens.accessToken(['scope-69']); // recent: cached
    expect(hub.requests).toHaveLength(70);
    await tokens.accessToken(['scope-0']); // evicted: fetched again
    expect(hub.requests).toHaveLength(71);
    tokens.close();
    await client.close();
  });
});
