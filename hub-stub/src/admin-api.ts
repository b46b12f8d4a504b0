/** The admin API a broker (and the tests) use: create agents, reset auth, rotate keys, audit. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METADATA_MODES, SCOPES, TRANSPORT_MODES } from '../../src/wire.js';
import { type HubContext, authAdmin } from './context.js';
import { dispatchEnv } from './dispatch-env.js';
import { toSeconds } from './duration.js';
import { HttpError, field, readJsonObject, sendJson } from './http.js';
import type { AgentRecord } from './state.js';
import { mintTransport } from './transport.js';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const MIN_TTL_S = 5;
const MAX_TTL_S = 7 * 86_400;

function parseTtl(v: unknown, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  const raw = toSeconds(v);
  const s = raw === undefined ? undefined : Math.floor(raw);
  if (s === undefined || s < MIN_TTL_S || s > MAX_TTL_S) {
    throw new HttpError(400, 'validation_error', `field "tokenTtl" is ${JSON.stringify(v)}; use seconds or a duration like 10h, from ${MIN_TTL_S}s to ${MAX_TTL_S / 86_400}d`);
  }
  return s;
}

export function agentView(ctx: HubContext, a: AgentRecord): Record<string, unknown> {
  markOffline(ctx);
  return {
    id: a.id,
    name: a.name,
    projectId: a.projectId,
    metadataMode: a.metadataMode,
    serviceAccountEmail: a.serviceAccountEmail,
    scopes: a.scopes,
    transport: a.transport,
    createdAt: a.createdAt,
    phase: a.phase,
    activity: a.activity,
    message: a.message,
    toolName: a.toolName,
    taskSummary: a.taskSummary,
    exitCode: a.exitCode,
    startedAt: a.startedAt,
    lastSeen: a.lastSeen,
    history: a.history ?? [],
    counts: a.counts,
  };
}

const STICKY = new Set(['completed', 'limits_exceeded', 'blocked', 'offline']);

/** Scion's liveness rule: a running agent silent for too long is `offline`. */
export function markOffline(ctx: HubContext): void {
  const cutoff = Date.now() - ctx.opts.offlineAfterMs;
  for (const a of ctx.state.agents.values()) {
    if (a.phase !== 'running' || (a.activity !== undefined && STICKY.has(a.activity))) continue;
    const seen = a.lastSeen ? Date.parse(a.lastSeen) : Date.parse(a.createdAt);
    if (seen < cutoff) {
      a.activity = 'offline';
      ctx.log.info({ agentId: a.id, lastSeen: a.lastSeen }, 'agent went offline');
    }
  }
}

function getAgent(ctx: HubContext, id: string): AgentRecord {
  const a = ctx.state.agents.get(id);
  if (!a) throw new HttpError(404, 'not_found', `agent ${id} not found`);
  return a;
}

export async function createAgent(ctx: HubContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  authAdmin(ctx, req);
  const body = await readJsonObject(req);
  const metadataMode = field.optEnum(body, 'metadataMode', METADATA_MODES) ?? 'block';
  const serviceAccountEmail = field.optString(body, 'serviceAccountEmail');
  if (serviceAccountEmail !== undefined && !EMAIL.test(serviceAccountEmail)) {
    throw new HttpError(400, 'validation_error', `field "serviceAccountEmail" is ${JSON.stringify(serviceAccountEmail)}; must be an email address`);
  }
  if (metadataMode === 'assign' && serviceAccountEmail === undefined) {
    throw new HttpError(400, 'validation_error', 'metadataMode "assign" needs a serviceAccountEmail');
  }
  const projectId = field.optString(body, 'projectId') ?? 'scion-demo-project';
  if (!PROJECT_ID.test(projectId)) {
    throw new HttpError(400, 'validation_error', `field "projectId" is ${JSON.stringify(projectId)}; must be a GCP project id (6-30 lowercase letters, digits, hyphens)`);
  }
  const id = randomUUID();
  const name = field.optString(body, 'name') ?? `agent-${id.slice(0, 8)}`;
  if (name.trim() === '' || name.length > 128) throw new HttpError(400, 'validation_error', 'field "name" must be 1 to 128 characters');
  let transport: AgentRecord['transport'] = { mode: 'none', audience: undefined };
  if (body.transport !== undefined && body.transport !== null) {
    if (typeof body.transport !== 'object' || Array.isArray(body.transport)) throw new HttpError(400, 'validation_error', 'field "transport" must be an object {mode, audience}');
    const t = body.transport as Record<string, unknown>;
    const mode = field.optEnum(t, 'mode', TRANSPORT_MODES) ?? 'none';
    const audience = field.optString(t, 'audience');
    if (mode === 'iap' && !audience) throw new HttpError(400, 'validation_error', 'transport mode "iap" needs an audience (the IAP OAuth client id)');
    transport = { mode, audience: mode === 'none' ? undefined : audience };
  }
  const scopes = field.optStringArray(body, 'scopes') ?? [
    SCOPES.statusUpdate,
    SCOPES.tokenRefresh,
    SCOPES.notify,
    ...(metadataMode === 'assign' && serviceAccountEmail ? [`${SCOPES.gcpTokenPrefix}${serviceAccountEmail}`] : []),
  ];
  const agent: AgentRecord = {
    id,
    name,
    projectId,
    metadataMode,
    serviceAccountEmail: metadataMode === 'assign' ? serviceAccountEmail : undefined,
    scopes,
    tokenTtlSec: parseTtl(body.tokenTtl, ctx.opts.defaultTokenTtlSec),
    transport,
    createdAt: new Date().toISOString(),
    phase: 'created',
    activity: undefined,
    message: undefined,
    toolName: undefined,
    taskSummary: undefined,
    exitCode: undefined,
    startedAt: undefined,
    lastSeen: undefined,
    counts: { statusUpdates: 0, heartbeats: 0, tokenRefreshes: 0, gcpTokens: 0, gcpIdentityTokens: 0, currentTurns: undefined, currentModelCalls: undefined },
  };
  // Mint everything first: a failure must not leave a half-created agent behind.
  let bootstrapTransport;
  try {
    bootstrapTransport = await mintTransport(ctx, agent);
  } catch (err) {
    throw new HttpError(502, 'gcp_token_failed', `transport token generation failed: ${(err as Error).message}`);
  }
  ctx.state.agents.set(id, agent);
  const { token, claims } = await ctx.tokens.mint(agent);
  ctx.state.save();
  ctx.log.info({ agentId: id, agentName: name, metadataMode, transport: transport.mode }, 'agent created');
  sendJson(res, 201, {
    id,
    token,
    expiresAt: new Date(claims.exp * 1000).toISOString(),
    env: dispatchEnv(agent, ctx.opts.publicUrl, token, bootstrapTransport),
  });
}

export function listAgents(ctx: HubContext, req: IncomingMessage, res: ServerResponse): void {
  authAdmin(ctx, req);
  sendJson(res, 200, { agents: [...ctx.state.agents.values()].map((a) => agentView(ctx, a)) });
}

export function getAgentView(ctx: HubContext, req: IncomingMessage, res: ServerResponse, id: string): void {
  authAdmin(ctx, req);
  sendJson(res, 200, agentView(ctx, getAgent(ctx, id)));
}

export async function resetAuth(ctx: HubContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  authAdmin(ctx, req);
  const agent = getAgent(ctx, id);
  await readJsonObject(req);
  let transport;
  try {
    transport = await mintTransport(ctx, agent);
  } catch (err) {
    throw new HttpError(502, 'gcp_token_failed', `transport token generation failed: ${(err as Error).message}`);
  }
  const { token, claims } = await ctx.tokens.mint(agent);
  ctx.state.save();
  ctx.log.info({ agentId: id }, 'agent auth reset');
  sendJson(res, 200, {
    token,
    expiresAt: new Date(claims.exp * 1000).toISOString(),
    ...(transport ? { transportToken: transport.token, transportAudience: transport.audience, transportExpiresAt: transport.expiresAt.toISOString() } : {}),
  });
}

export async function revokeAgent(ctx: HubContext, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  authAdmin(ctx, req);
  getAgent(ctx, id);
  await readJsonObject(req);
  const revoked = ctx.tokens.revokeAll(id);
  ctx.log.info({ agentId: id, revoked }, 'agent tokens revoked');
  sendJson(res, 200, { revoked });
}

export async function rotateKeys(ctx: HubContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  authAdmin(ctx, req);
  const body = await readJsonObject(req);
  const retireOld = field.optBool(body, 'retireOld') ?? false;
  const r = await ctx.tokens.rotate(retireOld);
  ctx.log.info({ kid: r.kid, retired: r.retired }, 'signing keys rotated');
  sendJson(res, 200, r);
}

export function listKeys(ctx: HubContext, req: IncomingMessage, res: ServerResponse): void {
  authAdmin(ctx, req);
  sendJson(res, 200, {
    keys: ctx.state.keys.map((k) => ({ kid: k.kid, alg: k.alg, createdAt: k.createdAt, retiredAt: k.retiredAt, active: k.kid === ctx.state.activeKid })),
  });
}

export function getAudit(ctx: HubContext, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  authAdmin(ctx, req);
  const agent = query.get('agent');
  const events = agent ? ctx.state.audit.filter((e) => e.agentId === agent) : ctx.state.audit;
  sendJson(res, 200, { events });
}
