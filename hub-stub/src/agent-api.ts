/** The agent-facing API, with Scion's scope, self-access and error rules (spec §4.5–4.8). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ACTIVITIES, CLOUD_PLATFORM_SCOPE, PHASES, SCOPES, type TokenEntry, type TokenRefreshResponse } from '../../src/wire.js';
import type { AgentClaims } from './agent-tokens.js';
import { type HubContext, authAgent, requireScope } from './context.js';
import { HttpError, field, parseJsonObject, readBody, sendEmpty, sendJson } from './http.js';
import type { AgentRecord, AuditEvent } from './state.js';
import { mintTransport } from './transport.js';

const ACCESS_TOKEN_LIFETIME_S = 3600;

function self(claims: AgentClaims, id: string, message: string): void {
  if (claims.sub !== id) throw new HttpError(403, 'forbidden', message);
}

/*
 * Every handler reads the whole (bounded) body before it checks the token: a client
 * that holds the body back must not get a token checked now and honoured after a
 * revocation or key retirement that happens meanwhile.
 */

export async function postStatus(ctx: HubContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const raw = await readBody(req);
  const claims = await authAgent(ctx, req);
  self(claims, id, 'Agents can only update their own status');
  requireScope(claims, SCOPES.statusUpdate, `Missing required scope: ${SCOPES.statusUpdate}`);
  const agent = ctx.state.agents.get(id);
  if (!agent) throw new HttpError(404, 'not_found', `agent ${id} not found`);
  const body = parseJsonObject(raw);
  const phase = field.optEnum(body, 'phase', PHASES);
  const activity = field.optEnum(body, 'activity', ACTIVITIES);
  const message = field.optString(body, 'message');
  const toolName = field.optString(body, 'toolName');
  const taskSummary = field.optString(body, 'taskSummary');
  const heartbeat = field.optBool(body, 'heartbeat');
  const startedAt = field.optString(body, 'startedAt');
  const exitCode = field.optInt(body, 'exitCode');
  const turns = field.optInt(body, 'currentTurns');
  const calls = field.optInt(body, 'currentModelCalls');
  if (phase !== undefined) {
    if (phase !== agent.phase) {
      agent.history = [...(agent.history ?? []), { phase, at: new Date().toISOString(), ...(exitCode !== undefined ? { exitCode } : {}) }].slice(-50);
    }
    agent.phase = phase;
  }
  if (activity !== undefined) {
    agent.activity = activity;
    agent.toolName = toolName;
  } else if (phase !== undefined && phase !== 'running') {
    agent.activity = undefined;
  }
  if (agent.activity === 'offline' && activity === undefined) agent.activity = undefined; // it spoke again
  if (message !== undefined) agent.message = message;
  if (taskSummary !== undefined) agent.taskSummary = taskSummary;
  if (startedAt !== undefined) agent.startedAt = startedAt;
  if (exitCode !== undefined) agent.exitCode = exitCode;
  if (turns !== undefined) agent.counts.currentTurns = turns;
  if (calls !== undefined) agent.counts.currentModelCalls = calls;
  agent.lastSeen = new Date().toISOString();
  agent.counts.statusUpdates++;
  if (heartbeat === true) agent.counts.heartbeats++;
  ctx.state.saveSoon();
  sendEmpty(res, 200);
}

export async function postTokenRefresh(ctx: HubContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const raw = await readBody(req);
  const claims = await authAgent(ctx, req);
  self(claims, id, 'agents can only refresh their own token');
  requireScope(claims, SCOPES.tokenRefresh, `missing required scope: ${SCOPES.tokenRefresh}`);
  parseJsonObject(raw); // ignored, but must be well-formed
  const agent = ctx.state.agents.get(id) as AgentRecord;
  const { token, claims: minted } = await ctx.tokens.mint(agent);
  agent.counts.tokenRefreshes++;
  const now = Math.floor(Date.now() / 1000);
  const tokens: TokenEntry[] = [{ layer: 'app', type: 'scion_access', value: token, expiresIn: minted.exp - now }];
  const body: TokenRefreshResponse = { token, expires_at: new Date(minted.exp * 1000).toISOString().replace('.000Z', 'Z'), tokens };
  if (agent.transport.mode !== 'none') {
    try {
      const t = await mintTransport(ctx, agent);
      if (t) tokens.push({ layer: 'transport', type: 'google_oidc', value: t.token, expiresIn: Math.max(0, Math.floor(t.expiresAt.getTime() / 1000) - now), audience: t.audience });
    } catch (err) {
      // Generic on purpose: IAM details are for the hub's log, not the agent.
      ctx.log.warn({ agentId: id, err: (err as Error).message }, 'transport token refresh failed');
      body.transportError = 'transport token could not be refreshed';
    }
  }
  ctx.state.saveSoon();
  sendJson(res, 200, body);
}

type GcpEvent = 'gcp_access_token' | 'gcp_identity_token';

/** The checks both GCP endpoints share, in Scion's order; every decision is audited. */
async function gcpPreflight(ctx: HubContext, req: IncomingMessage, event: GcpEvent): Promise<{ agent: AgentRecord; audit: (e: Partial<AuditEvent>) => void; raw: Buffer }> {
  const raw = await readBody(req);
  const claims = await authAgent(ctx, req);
  const agent = ctx.state.agents.get(claims.sub) as AgentRecord;
  const audit = (e: Partial<AuditEvent>): void => {
    ctx.state.recordAudit({
      time: new Date().toISOString(),
      event,
      agentId: agent.id,
      projectId: agent.projectId,
      serviceAccount: agent.serviceAccountEmail,
      success: false,
      reason: undefined,
      ...e,
    });
  };
  const deny = (status: number, code: string, message: string, headers: Record<string, string> = {}): never => {
    audit({ success: false, reason: message });
    throw new HttpError(status, code, message, headers);
  };
  const wait = ctx.limiter.take(agent.id);
  if (wait > 0) {
    const message = 'rate limit exceeded for GCP token requests';
    // Audited once per window: the denial is the decision, its repeats are noise.
    if (ctx.limiter.noteDenial(agent.id)) audit({ success: false, reason: message });
    throw new HttpError(429, 'rate_limited', message, { 'retry-after': String(wait) });
  }
  if (agent.metadataMode !== 'assign' || !agent.serviceAccountEmail) deny(403, 'forbidden', 'no GCP identity assigned');
  const sa = agent.serviceAccountEmail as string;
  if (!claims.scopes.includes(`${SCOPES.gcpTokenPrefix}${sa}`) && !claims.scopes.includes(`${SCOPES.gcpTokenPrefixLegacy}${sa}`)) {
    deny(403, 'forbidden', 'missing required GCP token scope');
  }
  return { agent, audit, raw };
}

export async function postGcpToken(ctx: HubContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { agent, audit, raw } = await gcpPreflight(ctx, req, 'gcp_access_token');
  let body: Record<string, unknown>;
  try {
    body = parseJsonObject(raw);
  } catch (err) {
    audit({ reason: (err as Error).message });
    throw err;
  }
  let scopes: string[];
  try {
    scopes = field.optStringArray(body, 'scopes') ?? [CLOUD_PLATFORM_SCOPE];
    if (scopes.length === 0) scopes = [CLOUD_PLATFORM_SCOPE];
  } catch (err) {
    audit({ reason: (err as Error).message });
    throw err;
  }
  if (!ctx.iam) {
    audit({ reason: 'gcp_not_configured', scopes });
    throw new HttpError(503, 'gcp_not_configured', 'GCP token generation is not configured on this hub');
  }
  try {
    const r = await ctx.iam.generateAccessToken(agent.serviceAccountEmail as string, scopes, ACCESS_TOKEN_LIFETIME_S);
    const expiresIn = Math.max(0, Math.floor((r.expireTime.getTime() - Date.now()) / 1000));
    agent.counts.gcpTokens++;
    audit({ success: true, scopes });
    sendJson(res, 200, { access_token: r.accessToken, expires_in: expiresIn, token_type: 'Bearer' });
  } catch (err) {
    audit({ reason: (err as Error).message, scopes });
    throw new HttpError(502, 'gcp_token_failed', `token generation failed: ${(err as Error).message}`);
  }
}

export async function postGcpIdentityToken(ctx: HubContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { agent, audit, raw } = await gcpPreflight(ctx, req, 'gcp_identity_token');
  let audience: string | undefined;
  try {
    audience = field.optString(parseJsonObject(raw), 'audience');
  } catch (err) {
    audit({ reason: (err as Error).message });
    throw err instanceof HttpError ? new HttpError(400, 'invalid_request', err.message) : err;
  }
  if (audience === undefined || audience.trim() === '') {
    audit({ reason: 'audience is required' });
    throw new HttpError(400, 'invalid_request', 'audience is required');
  }
  if (!ctx.iam) {
    audit({ reason: 'gcp_not_configured', audience });
    throw new HttpError(503, 'gcp_not_configured', 'GCP token generation is not configured on this hub');
  }
  try {
    const token = await ctx.iam.generateIdToken(agent.serviceAccountEmail as string, audience);
    agent.counts.gcpIdentityTokens++;
    audit({ success: true, audience });
    sendJson(res, 200, { token });
  } catch (err) {
    audit({ reason: (err as Error).message, audience });
    throw new HttpError(502, 'gcp_token_failed', `identity token generation failed: ${(err as Error).message}`);
  }
}
