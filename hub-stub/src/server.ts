/** Routing and the HTTP server. Every failure leaves as Scion's error envelope. */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import * as admin from './admin-api.js';
import * as agentApi from './agent-api.js';
import type { HubContext } from './context.js';
import { HttpError, sendError, sendJson } from './http.js';

type Handler = (ctx: HubContext, req: IncomingMessage, res: ServerResponse, params: string[], query: URLSearchParams) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
}

const ID = '([^/]+)';

const ROUTES: Route[] = [
  { pattern: /^\/healthz$/, methods: { GET: (_c, _q, res) => sendJson(res, 200, { status: 'ok' }) } },
  { pattern: /^\/readyz$/, methods: { GET: (_c, _q, res) => sendJson(res, 200, { status: 'ok' }) } },
  { pattern: /^\/\.well-known\/jwks\.json$/, methods: { GET: (c, _q, res) => sendJson(res, 200, c.tokens.jwks()) } },
  { pattern: new RegExp(`^/api/v1/agents/${ID}/status$`), methods: { POST: (c, q, r, p) => agentApi.postStatus(c, q, r, p[0] as string) } },
  { pattern: new RegExp(`^/api/v1/agents/${ID}/token/refresh$`), methods: { POST: (c, q, r, p) => agentApi.postTokenRefresh(c, q, r, p[0] as string) } },
  { pattern: /^\/api\/v1\/agent\/gcp-token$/, methods: { POST: (c, q, r) => agentApi.postGcpToken(c, q, r) } },
  { pattern: /^\/api\/v1\/agent\/gcp-identity-token$/, methods: { POST: (c, q, r) => agentApi.postGcpIdentityToken(c, q, r) } },
  { pattern: /^\/api\/v1\/agents$/, methods: { POST: (c, q, r) => admin.createAgent(c, q, r), GET: (c, q, r) => admin.listAgents(c, q, r) } },
  { pattern: new RegExp(`^/api/v1/agents/${ID}$`), methods: { GET: (c, q, r, p) => admin.getAgentView(c, q, r, p[0] as string) } },
  { pattern: new RegExp(`^/api/v1/agents/${ID}/reset-auth$`), methods: { POST: (c, q, r, p) => admin.resetAuth(c, q, r, p[0] as string) } },
  { pattern: new RegExp(`^/api/v1/agents/${ID}/revoke$`), methods: { POST: (c, q, r, p) => admin.revokeAgent(c, q, r, p[0] as string) } },
  { pattern: /^\/api\/v1\/admin\/signing-keys\/rotate$/, methods: { POST: (c, q, r) => admin.rotateKeys(c, q, r) } },
  { pattern: /^\/api\/v1\/admin\/signing-keys$/, methods: { GET: (c, q, r) => admin.listKeys(c, q, r) } },
  { pattern: /^\/api\/v1\/admin\/audit$/, methods: { GET: (c, q, r, _p, query) => admin.getAudit(c, q, r, query) } },
];

async function handle(ctx: HubContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://hub');
  for (const route of ROUTES) {
    const m = route.pattern.exec(url.pathname);
    if (!m) continue;
    const handler = route.methods[req.method ?? ''];
    if (!handler) {
      const allow = Object.keys(route.methods).join(', ');
      throw new HttpError(405, 'method_not_allowed', `method ${req.method ?? ''} is not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
    }
    let params: string[];
    try {
      params = m.slice(1).map((p) => decodeURIComponent(p));
    } catch {
      throw new HttpError(400, 'invalid_request', 'malformed path');
    }
    await handler(ctx, req, res, params, url.searchParams);
    return;
  }
  throw new HttpError(404, 'not_found', `no route for ${url.pathname}`);
}

export function createHubServer(ctx: HubContext): Server {
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    handle(ctx, req, res)
      .catch((err: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof HttpError) {
          sendError(res, err);
          // The rest of an oversized body is not worth reading.
          if (err.status === 413) res.once('finish', () => req.socket.destroy());
          return;
        }
        ctx.log.error({ err: (err as Error).message, path: req.url, method: req.method }, 'request failed');
        sendError(res, new HttpError(500, 'internal_error', 'internal error'));
      })
      .finally(() => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // Paths and codes only: headers and bodies carry tokens.
        ctx.log.debug({ method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
      });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 30_000;
  return server;
}
