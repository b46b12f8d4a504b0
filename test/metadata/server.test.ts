import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MetadataConfig, loadMetadataConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { TokenUnavailable, type TokenSource } from '../../src/metadata/identity-tokens.js';
import { MetadataHandler } from '../../src/metadata/server.js';
import { Redactor } from '../../src/util/redact.js';

const SA = 'agent-sa@my-project-123.iam.gserviceaccount.com';
const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });

class StubTokens implements TokenSource {
  calls: string[][] = [];
  fail = false;
  async accessToken(scopes: string[]) {
    this.calls.push(scopes);
    if (this.fail) throw new TokenUnavailable('hub down');
    return { token: `ya29.stub-${scopes.join('+') || 'default'}`, expiresIn: 3599 };
  }
  async idToken(audience: string, format: string) {
    if (this.fail) throw new TokenUnavailable('hub down');
    return `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: audience, format })).toString('base64url')}.c2ln`;
  }
  close() {}
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = { 'Metadata-Flavor': 'Google' }, method = 'GET'): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: '169.254.169.254', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function serve(cfg: MetadataConfig, tokens: TokenSource): Promise<{ server: Server; port: number; handler: MetadataHandler }> {
  const handler = new MetadataHandler({ cfg, tokens, log });
  const server = createServer(handler.handle);
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, port: (server.address() as AddressInfo).port, handler })));
}

const assignCfg = loadMetadataConfig({ SCION_METADATA_MODE: 'assign', SCION_METADATA_SA_EMAIL: SA, SCION_METADATA_PROJECT_ID: 'my-project-123', SCION_AGENT_ID: 'a1' }) as MetadataConfig;
const blockCfg = loadMetadataConfig({ SCION_METADATA_MODE: 'block', SCION_METADATA_PROJECT_ID: 'my-project-123', SCION_AGENT_ID: 'a1' }) as MetadataConfig;
let assign: Awaited<ReturnType<typeof serve>>;
let block: Awaited<ReturnType<typeof serve>>;
const tokens = new StubTokens();

beforeAll(async () => {
  assign = await serve(assignCfg, tokens);
  block = await serve(blockCfg, new StubTokens());
});
afterAll(() => {
  assign.server.close();
  block.server.close();
});

describe('real-server behaviour', () => {
  it('GET / answers 200 with Metadata-Flavor, even without the request header', async () => {
    const r = await get(assign.port, '/', {});
    expect(r.status).toBe(200);
    expect(r.headers['metadata-flavor']).toBe('Google');
    expect(r.headers['content-type']).toBe('application/text');
  });

  it('403 without the header, with a wrong one, or with X-Forwarded-For; Metadata-Flavor on the 403 too', async () => {
    for (const h of [{}, { 'Metadata-Flavor': 'google' }, { 'Metadata-Flavor': 'Google', 'X-Forwarded-For': '1.2.3.4' }]) {
      const r = await get(assign.port, '/computeMetadata/v1/project/project-id', h as Record<string, string>);
      expect(r.status).toBe(403);
      expect(r.headers['metadata-flavor']).toBe('Google');
      expect(r.headers['content-type']).toMatch(/^text\/html/);
    }
  });

  it('directories without a slash redirect 301 to the Host header, keeping the query, with no port leak', async () => {
    const r = await get(assign.port, '/computeMetadata/v1/instance?recursive=true');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('http://169.254.169.254/computeMetadata/v1/instance/?recursive=true');
    expect(r.headers['metadata-flavor']).toBe('Google');
    const viaEnv = await get(assign.port, '/computeMetadata/v1/instance/service-accounts', { 'Metadata-Flavor': 'Google', host: '127.0.0.1:18380' });
    expect(viaEnv.headers.location).toBe('http://127.0.0.1:18380/computeMetadata/v1/instance/service-accounts/');
  });

  it('listings, values, numeric project id, universe domain, and ETags', async () => {
    const inst = await get(assign.port, '/computeMetadata/v1/instance/');
    expect(inst.body).toContain('service-accounts/\n');
    expect(inst.body).toContain('zone\n');
    expect(inst.headers.etag).toMatch(/^[0-9a-f]{16}$/);
    expect((await get(assign.port, '/computeMetadata/v1/project/project-id')).body).toBe('my-project-123');
    expect((await get(assign.port, '/computeMetadata/v1/project/numeric-project-id')).body).toMatch(/^\d{12}$/);
    expect((await get(assign.port, '/computeMetadata/v1/universe/universe-domain')).body).toBe('googleapis.com');
    expect((await get(assign.port, '/computeMetadata/v1/instance/zone')).body).toMatch(/^projects\/\d+\/zones\/us-central1-a$/);
    expect((await get(assign.port, '/computeMetadata/v1/')).body).toBe('instance/\nproject/\nuniverse/\n');
  });

  it('recursive JSON is camelCase with numbers; alt=json and alt=text', async () => {
    const r = await get(assign.port, '/computeMetadata/v1/project/?recursive=true');
    expect(r.headers['content-type']).toBe('application/json');
    const j = JSON.parse(r.body) as Record<string, unknown>;
    expect(j.projectId).toBe('my-project-123');
    expect(typeof j.numericProjectId).toBe('number');
    expect((await get(assign.port, '/computeMetadata/v1/project/project-id?alt=json')).body).toBe('"my-project-123"');
    expect((await get(assign.port, '/computeMetadata/v1/project/?recursive=true&alt=text')).body).toMatch(/^attributes\/google-compute-default-region us-central1\n/);
    expect((await get(assign.port, '/computeMetadata/v1/project/?alt=xml')).status).toBe(400);
  });

  it('404 for legacy paths, unknown keys, instance/attributes/cluster-name; 405 for POST', async () => {
    for (const p of ['/0.1/meta-data/', '/computeMetadata/v1beta1/instance/', '/computeMetadata/v1/instance/nope', '/computeMetadata/v1/instance/attributes/cluster-name', '/computeMetadata/v1/project/project-id/']) {
      const r = await get(assign.port, p);
      expect(r.status, p).toBe(404);
      expect(r.headers['metadata-flavor']).toBe('Google');
    }
    expect((await get(assign.port, '/computeMetadata/v1/project/project-id', { 'Metadata-Flavor': 'Google' }, 'POST')).status).toBe(405);
  });

  it('wait_for_change returns at once on a stale last_etag and after timeout_sec otherwise', async () => {
    const first = await get(assign.port, '/computeMetadata/v1/instance/attributes/');
    const stale = await get(assign.port, '/computeMetadata/v1/instance/attributes/?wait_for_change=true&last_etag=0000000000000000');
    expect(stale.status).toBe(200);
    const t = Date.now();
    const waited = await get(assign.port, `/computeMetadata/v1/instance/attributes/?wait_for_change=true&last_etag=${String(first.headers.etag)}&timeout_sec=1`);
    expect(Date.now() - t).toBeGreaterThanOrEqual(900);
    expect(waited.headers.etag).toBe(first.headers.etag);
    // A change wakes the long-poll.
    setTimeout(() => assign.handler.update((tree) => ((tree.instance as Record<string, Record<string, string>>).attributes as Record<string, string>).team = 'infra'), 200);
    const changed = await get(assign.port, `/computeMetadata/v1/instance/attributes/?wait_for_change=true&last_etag=${String(first.headers.etag)}&timeout_sec=10`);
    expect(changed.body).toContain('team');
    expect(changed.headers.etag).not.toBe(first.headers.etag);
    expect((await get(assign.port, '/computeMetadata/v1/instance/attributes/?wait_for_change=true&timeout_sec=abc')).status).toBe(400);
  });
});

describe('assign mode', () => {
  it('serves the SA under default and its email, with scopes and aliases', async () => {
    expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/')).body).toBe(`${SA}/\ndefault/\n`);
    const rec = JSON.parse((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/?recursive=true')).body) as Record<string, unknown>;
    expect(rec.default).toEqual({ aliases: ['default'], email: SA, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    for (const acct of ['default', SA]) {
      expect((await get(assign.port, `/computeMetadata/v1/instance/service-accounts/${acct}/email`)).body).toBe(SA);
      expect((await get(assign.port, `/computeMetadata/v1/instance/service-accounts/${acct}/`)).body).toBe('aliases\nemail\nidentity\nscopes\ntoken\n');
    }
    expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/scopes')).body).toBe('https://www.googleapis.com/auth/cloud-platform');
    expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/other@x.iam.gserviceaccount.com/email')).status).toBe(404);
  });

  it('token forwards the requested scopes; JSON with an integer expires_in', async () => {
    const r = await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/token?scopes=https://www.googleapis.com/auth/devstorage.read_only,https://www.googleapis.com/auth/userinfo.email');
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ access_token: 'ya29.stub-https://www.googleapis.com/auth/devstorage.read_only+https://www.googleapis.com/auth/userinfo.email', expires_in: 3599, token_type: 'Bearer' });
  });

  it('identity needs an audience (raw, unencoded ones too) and answers a JWT as text', async () => {
    expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/identity')).status).toBe(400);
    const r = await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/identity?format=full&audience=https://svc.example.com/path');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/text');
    expect(JSON.parse(Buffer.from(r.body.split('.')[1] as string, 'base64url').toString())).toEqual({ aud: 'https://svc.example.com/path', format: 'full' });
    expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/identity?audience=x&format=weird')).status).toBe(400);
  });

  it('503 with Retry-After, never 502, when the Hub cannot mint', async () => {
    tokens.fail = true;
    try {
      const r = await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/token');
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect((await get(assign.port, '/computeMetadata/v1/instance/service-accounts/default/identity?audience=x')).status).toBe(503);
    } finally {
      tokens.fail = false;
    }
  });
});

describe('block mode: a VM with no service account', () => {
  it('normal metadata, an empty service-accounts listing, 404 for token, email and identity', async () => {
    expect((await get(block.port, '/computeMetadata/v1/project/project-id')).body).toBe('my-project-123');
    const list = await get(block.port, '/computeMetadata/v1/instance/service-accounts/');
    expect([list.status, list.body]).toEqual([200, '']);
    expect((await get(block.port, '/computeMetadata/v1/instance/service-accounts/?recursive=true')).body).toBe('{}');
    for (const leaf of ['token', 'email', 'identity?audience=x', '']) {
      expect((await get(block.port, `/computeMetadata/v1/instance/service-accounts/default/${leaf}`)).status).toBe(404);
    }
  });
});

describe('robustness', () => {
  it('header fuzzing and malformed queries never crash the server', async () => {
    const paths = ['/computeMetadata/v1/%', '/computeMetadata/v1/instance/%zz/', '/computeMetadata/v1//', '/computeMetadata/v1/../../etc/passwd', '/computeMetadata/v1/instance/service-accounts/default/token?scopes=%', '/computeMetadata/v1/instance/service-accounts/default/identity?audience=%E0%A4%A', `/computeMetadata/v1/${'a/'.repeat(500)}`, '/computeMetadata/v1/instance/?recursive=true&recursive=false&alt=json&alt=text'];
    for (const p of paths) {
      const r = await get(assign.port, p);
      expect(r.status, p).toBeGreaterThanOrEqual(200);
      expect(r.status, p).toBeLessThan(600);
      expect(r.headers['metadata-flavor']).toBe('Google');
    }
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(Array.from({ length: 20 }, () => 33 + Math.floor(Math.random() * 90))).toString('latin1').replace(/[\r\n]/g, '');
      await get(assign.port, '/computeMetadata/v1/instance/', { 'Metadata-Flavor': 'Google', 'X-Junk': junk, Accept: junk }).catch(() => undefined);
    }
    expect((await get(assign.port, '/computeMetadata/v1/project/project-id')).status).toBe(200);
  });
});

describe('long-poll: review regressions', () => {
  it('last_etag=NONE answers at once, as guest agents expect', async () => {
    const t = Date.now();
    const r = await get(assign.port, '/computeMetadata/v1/instance/attributes/?wait_for_change=true&last_etag=NONE&timeout_sec=5');
    expect(r.status).toBe(200);
    expect(Date.now() - t).toBeLessThan(1000);
  });
});
