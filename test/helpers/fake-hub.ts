/** A scriptable HTTP server that records every request, for Hub-client tests. */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export type Responder = (req: Recorded) => { status: number; body?: unknown; headers?: Record<string, string> } | 'hang' | 'reset';

export class FakeHub {
  readonly requests: Recorded[] = [];
  private server: Server | undefined;
  url = '';

  constructor(public respond: Responder) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const rec: Recorded = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, at: Date.now() };
        this.requests.push(rec);
        const out = this.respond(rec);
        if (out === 'hang') return;
        if (out === 'reset') {
          req.socket.destroy();
          return;
        }
        const text = out.body === undefined ? '' : JSON.stringify(out.body);
        res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
        res.end(text);
      });
    });
    await new Promise<void>((r) => this.server?.listen(port, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** A JWT-shaped token (unsigned: the client never verifies) expiring in `ttlS` seconds. */
export function fakeJwt(ttlS: number, extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc({ sub: 'agent-1', iat: now, exp: now + ttlS, jti: Math.random().toString(36), ...extra })}.c2ln`;
}

/**
 * For a test file: `fake(respond)` starts a FakeHub that is stopped after each test.
 * Call once at module level (it registers an afterEach).
 */
export function useFakeHubs(afterEachHook: (fn: () => Promise<void>) => void): (respond: Responder) => Promise<FakeHub> {
  const hubs: FakeHub[] = [];
  afterEachHook(async () => {
    for (const h of hubs.splice(0)) await h.stop();
  });
  return async (respond) => {
    const h = new FakeHub(respond);
    await h.start();
    hubs.push(h);
    return h;
  };
}
