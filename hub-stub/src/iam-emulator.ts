/**
 * An in-process IAM Credentials emulator on loopback, speaking the REST shape that
 * Google's client library sends (`:generateAccessToken`, `:generateIdToken`), plus
 * the JWKS and tokeninfo endpoints needed to verify what it mints. It behaves like
 * the real service where tests can see it: unknown service accounts are NOT_FOUND,
 * lifetimes over an hour are refused, ID tokens are RS256 with Google's claims.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

export const GOOGLE_ISSUER = 'https://accounts.google.com';
const MAX_LIFETIME_S = 3600;
const ID_TOKEN_TTL_S = 3600;

/** What real Google service account emails look like; anything else does not exist. */
const SERVICE_ACCOUNT = /^[a-z0-9][a-z0-9-]{2,62}@([a-z][a-z0-9-]{4,28}[a-z0-9]\.iam|appspot|developer)\.gserviceaccount\.com$/;

interface MintedAccess {
  email: string;
  scopes: string[];
  exp: number;
}

function uniqueId(email: string): string {
  // Google's numeric service account ids are 21 digits; derive a stable one.
  const h = createHash('sha256').update(email).digest();
  return `1${(h.readBigUInt64BE(0) % 10n ** 20n).toString().padStart(20, '0')}`;
}

function googleError(res: ServerResponse, code: number, status: string, message: string): void {
  const body = JSON.stringify({ error: { code, message, status } });
  res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) return undefined;
    chunks.push(c as Buffer);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export class IamEmulator {
  private server: Server | undefined;
  private privateKey!: CryptoKey;
  private publicJwk!: JWK;
  private readonly accessTokens = new Map<string, MintedAccess>();
  url = '';

  async start(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    this.privateKey = privateKey;
    const jwk = await exportJWK(publicKey);
    this.publicJwk = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' };
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => googleError(res, 500, 'INTERNAL', (err as Error).message));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (req.method === 'GET' && url.pathname === '/oauth2/v3/certs') return json(res, this.jwks());
    if (req.method === 'GET' && (url.pathname === '/tokeninfo' || url.pathname === '/oauth2/v3/tokeninfo')) return this.tokeninfo(url, res);
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):(generateAccessToken|generateIdToken)$/.exec(url.pathname);
    if (!m) return googleError(res, 404, 'NOT_FOUND', `no such method ${req.method ?? ''} ${url.pathname}`);
    if (req.method !== 'POST') return googleError(res, 405, 'METHOD_NOT_ALLOWED', 'use POST');
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
      return googleError(res, 401, 'UNAUTHENTICATED', 'Request is missing required authentication credential.');
    }
    const email = decodeURIComponent(m[1] as string);
    const body = await readJson(req);
    if (!body) return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    if (!SERVICE_ACCOUNT.test(email)) return googleError(res, 404, 'NOT_FOUND', `Not found; Gaia id not found for email ${email}`);
    return m[2] === 'generateAccessToken' ? this.accessToken(email, body, res) : this.idToken(email, body, res);
  }

  private accessToken(email: string, body: Record<string, unknown>, res: ServerResponse): void {
    const scopes = body.scope;
    if (!Array.isArray(scopes) || scopes.length === 0 || scopes.some((s) => typeof s !== 'string' || s === '')) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Scope required.');
    }
    let lifetime = MAX_LIFETIME_S;
    if (body.lifetime !== undefined) {
      const lm = /^(\d+)(?:\.\d+)?s$/.exec(String(body.lifetime));
      if (!lm) return googleError(res, 400, 'INVALID_ARGUMENT', `Invalid value at 'lifetime' (${String(body.lifetime)})`);
      lifetime = Number(lm[1]);
      if (lifetime > MAX_LIFETIME_S) {
        return googleError(res, 400, 'INVALID_ARGUMENT', `The lifetime requested (${lifetime}s) is greater than the maximum allowed (${MAX_LIFETIME_S}s).`);
      }
    }
    const token = `ya29.c.${randomBytes(48).toString('base64url')}`;
    const exp = Math.floor(Date.now() / 1000) + lifetime;
    this.accessTokens.set(token, { email, scopes: scopes as string[], exp });
    json(res, { accessToken: token, expireTime: new Date(exp * 1000).toISOString().replace('.000Z', 'Z') });
  }

  private async idToken(email: string, body: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const audience = body.audience;
    if (typeof audience !== 'string' || audience === '') return googleError(res, 400, 'INVALID_ARGUMENT', 'Audience required.');
    const id = uniqueId(email);
    const claims: Record<string, unknown> = { azp: id };
    if (body.includeEmail === true) {
      claims.email = email;
      claims.email_verified = true;
    }
    const iat = Math.floor(Date.now() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid as string, typ: 'JWT' })
      .setIssuer(GOOGLE_ISSUER)
      .setAudience(audience)
      .setSubject(id)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ID_TOKEN_TTL_S)
      .sign(this.privateKey);
    json(res, { token });
  }

  private tokeninfo(url: URL, res: ServerResponse): void {
    const access = url.searchParams.get('access_token');
    const now = Math.floor(Date.now() / 1000);
    if (access !== null) {
      const t = this.accessTokens.get(access);
      if (!t || t.exp <= now) return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid Value');
      const id = uniqueId(t.email);
      return json(res, {
        azp: id,
        aud: id,
        sub: id,
        scope: t.scopes.join(' '),
        exp: String(t.exp),
        expires_in: String(t.exp - now),
        email: t.email,
        email_verified: 'true',
        access_type: 'online',
      });
    }
    googleError(res, 400, 'INVALID_ARGUMENT', 'access_token is required (verify ID tokens against /oauth2/v3/certs)');
  }
}
