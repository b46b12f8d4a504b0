/**
 * Agent JWTs: ES256, every token carries the `kid` of the key that signed it. Keys
 * rotate; a retired key stops verifying at once. Revocation is by `jti`.
 */
import { randomBytes } from 'node:crypto';
import { type CryptoKey, type JWTPayload, SignJWT, calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { AGENT_TOKEN_AUDIENCE, AGENT_TOKEN_ISSUER } from '../../src/wire.js';
import type { AgentRecord, HubState, StoredKey } from './state.js';

export interface AgentClaims extends JWTPayload {
  sub: string;
  jti: string;
  exp: number;
  iat: number;
  scopes: string[];
  grove_id?: string;
  project_id?: string;
}

export class TokenRejected extends Error {}

/** Clock skew tolerated on exp and nbf. */
const CLOCK_TOLERANCE_S = 30;

export class AgentTokens {
  private readonly privateKeys = new Map<string, CryptoKey>();
  private readonly publicKeys = new Map<string, CryptoKey>();

  constructor(private readonly state: HubState) {}

  /** Loads persisted keys, creating the first one when there is none. */
  async init(): Promise<void> {
    // A retired key must stay dead across restarts.
    for (const k of this.state.keys) if (k.retiredAt === undefined) await this.importKey(k);
    if (!this.state.activeKid) await this.rotate(false);
  }

  private async importKey(k: StoredKey): Promise<void> {
    this.privateKeys.set(k.kid, (await importJWK(k.privateJwk, k.alg)) as CryptoKey);
    this.publicKeys.set(k.kid, (await importJWK(k.publicJwk, k.alg)) as CryptoKey);
  }

  /** Adds a new active key; with `retireOld`, every other key stops verifying now. */
  async rotate(retireOld: boolean): Promise<{ kid: string; retired: string[] }> {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const stored: StoredKey = {
      kid,
      alg: 'ES256',
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
      publicJwk: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
      createdAt: new Date().toISOString(),
      retiredAt: undefined,
    };
    const retired: string[] = [];
    if (retireOld) {
      for (const k of this.state.keys) {
        if (k.retiredAt === undefined) {
          k.retiredAt = stored.createdAt;
          retired.push(k.kid);
          this.publicKeys.delete(k.kid);
          this.privateKeys.delete(k.kid);
        }
      }
    }
    this.state.keys.push(stored);
    this.state.activeKid = kid;
    await this.importKey(stored);
    this.state.save();
    return { kid, retired };
  }

  /** Public keys that still verify, as a JWKS. */
  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: this.state.keys.filter((k) => k.retiredAt === undefined).map((k) => k.publicJwk) };
  }

  async mint(agent: AgentRecord): Promise<{ token: string; claims: AgentClaims }> {
    const kid = this.state.activeKid as string;
    const key = this.privateKeys.get(kid) as CryptoKey;
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + agent.tokenTtlSec;
    const jti = randomBytes(16).toString('base64url');
    const claims: AgentClaims = {
      sub: agent.id,
      jti,
      iat,
      exp,
      scopes: agent.scopes,
      grove_id: agent.projectId,
      project_id: agent.projectId,
    };
    const token = await new SignJWT({ scopes: claims.scopes, grove_id: claims.grove_id, project_id: claims.project_id })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(AGENT_TOKEN_ISSUER)
      .setAudience(AGENT_TOKEN_AUDIENCE)
      .setSubject(agent.id)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key);
    let issued = this.state.issued.get(agent.id);
    if (!issued) this.state.issued.set(agent.id, (issued = new Map()));
    issued.set(jti, exp);
    // Written before the token leaves: a crash must not make it unrevocable.
    this.state.save();
    return { token, claims };
  }

  /** Verifies signature, issuer, audience, time, revocation and that the agent exists. */
  async verify(token: string): Promise<AgentClaims> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenRejected('malformed token');
    }
    const candidates = kid !== undefined ? [this.publicKeys.get(kid)].filter((k) => k !== undefined) : [...this.publicKeys.values()];
    if (candidates.length === 0) throw new TokenRejected(kid !== undefined && this.state.keys.some((k) => k.kid === kid) ? 'signing key has been retired' : 'unknown signing key');
    let payload: JWTPayload | undefined;
    let lastError = 'signature verification failed';
    for (const key of candidates) {
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer: AGENT_TOKEN_ISSUER,
          audience: AGENT_TOKEN_AUDIENCE,
          algorithms: ['ES256'],
          clockTolerance: CLOCK_TOLERANCE_S,
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        }));
        break;
      } catch (err) {
        lastError = describeJoseError(err);
      }
    }
    if (!payload) throw new TokenRejected(lastError);
    const claims = payload as AgentClaims;
    if (!Array.isArray(claims.scopes)) claims.scopes = [];
    if (this.state.revoked.has(claims.jti)) throw new TokenRejected('token has been revoked');
    if (!this.state.agents.has(claims.sub)) throw new TokenRejected('unknown agent');
    return claims;
  }

  /** Revokes every token issued to the agent that has not expired yet. */
  revokeAll(agentId: string): number {
    const issued = this.state.issued.get(agentId);
    let n = 0;
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, exp] of issued ?? []) {
      if (exp >= now - CLOCK_TOLERANCE_S && !this.state.revoked.has(jti)) {
        this.state.revoked.set(jti, exp + CLOCK_TOLERANCE_S);
        n++;
      }
    }
    this.state.save();
    return n;
  }
}

function describeJoseError(err: unknown): string {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token has expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature verification failed';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return `claim check failed: ${(err as Error).message}`;
    default:
      return (err as Error).message;
  }
}
