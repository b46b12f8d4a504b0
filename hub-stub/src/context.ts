/** What every handler works with: state, token service, impersonation, limits, options. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { AGENT_TOKEN_HEADER } from '../../src/wire.js';
import { type AgentClaims, type AgentTokens, TokenRejected } from './agent-tokens.js';
import { HttpError, bearer } from './http.js';
import type { Impersonator } from './iam.js';
import type { RateLimiter } from './rate-limit.js';
import type { HubState } from './state.js';

export interface HubOptions {
  adminToken: string;
  /** URL agents use to reach this hub (goes into SCION_HUB_ENDPOINT). */
  publicUrl: string;
  offlineAfterMs: number;
  /** Service account impersonated for transport (IAP / Cloud Run) ID tokens. */
  transportServiceAccount: string;
  defaultTokenTtlSec: number;
}

export interface HubContext {
  state: HubState;
  tokens: AgentTokens;
  /** undefined: no IAM configured (`--iam none`): GCP endpoints answer 503. */
  iam: Impersonator | undefined;
  limiter: RateLimiter;
  opts: HubOptions;
  log: Logger;
}

export function authAdmin(ctx: HubContext, req: IncomingMessage): void {
  const presented = bearer(req);
  if (presented === undefined) throw new HttpError(401, 'unauthorized', 'missing authorization header');
  const a = Buffer.from(presented);
  const b = Buffer.from(ctx.opts.adminToken);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(401, 'unauthorized', 'invalid admin token');
}

/** X-Scion-Agent-Token first, then Authorization: Bearer (Scion's order). */
export async function authAgent(ctx: HubContext, req: IncomingMessage): Promise<AgentClaims> {
  const header = req.headers[AGENT_TOKEN_HEADER];
  const token = (Array.isArray(header) ? header[0] : header) ?? bearer(req);
  if (token === undefined || token === '') throw new HttpError(401, 'unauthorized', 'missing authorization header');
  try {
    return await ctx.tokens.verify(token);
  } catch (err) {
    if (err instanceof TokenRejected) throw new HttpError(401, 'unauthorized', `invalid agent token: ${err.message}`);
    throw err;
  }
}

export function requireScope(claims: AgentClaims, scope: string, message: string): void {
  if (!claims.scopes.includes(scope)) throw new HttpError(403, 'forbidden', message);
}
