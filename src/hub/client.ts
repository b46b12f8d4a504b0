/**
 * The agent's Hub client (Node's built-in fetch, which is undici: the package itself
 * would add 1.5 MB to a bundle that every container starts): the app-layer token in X-Scion-Agent-Token on
 * every call, the transport token in its own header, connection reuse, a timeout on
 * every attempt, retries with full-jitter backoff on network errors, 5xx and 429
 * (Retry-After honoured), never on other 4xx. A 401 re-reads the token file and, when
 * it holds a different token, retries once with it.
 */
import type { AgentToken } from '../credentials/agent-token.js';
import type { Logger } from '../log.js';
import { type BackoffPolicy, fullJitter, retryAfterMs } from '../util/backoff.js';
import { VERSION } from '../version.js';
import { AGENT_TOKEN_HEADER } from '../wire.js';
import type { TransportSource } from './transport.js';

export class HubError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly code: string | undefined,
  ) {
    super(message);
  }

  /** The Hub refused our credentials: only a new token helps. */
  get authLost(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  backoff: BackoffPolicy;
  /** No attempt starts after this time (ms since the epoch). */
  deadline?: number;
}

export interface HubClientOptions {
  endpoint: string;
  agentToken: AgentToken;
  transport: TransportSource;
  timeoutMs: number;
  /** Re-read the token file on a 401 and retry once with what it holds. */
  reloadOn401: boolean;
  log: Logger;
}

export interface HubResponse {
  status: number;
  body: unknown;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class HubClient {
  private closed = false;
  /** Aborts whatever is in flight when the client closes. */
  private readonly shutdown = new AbortController();

  constructor(private readonly opts: HubClientOptions) {}

  async call(method: 'POST' | 'GET', path: string, body: unknown, retry: RetryOptions): Promise<HubResponse> {
    let attempt = 0;
    let retriedAuth = false;
    for (;;) {
      let delay: number | undefined;
      let error: HubError;
      try {
        const sent = this.opts.agentToken.current;
        const r = await this.once(method, path, body, retry.deadline);
        if (r.status < 300) return r;
        error = toHubError(r, path);
        // The token may have been replaced while the call was out (a reload by another
        // path): retry with it; else see whether the file holds a new one.
        if (r.status === 401 && !retriedAuth && this.opts.reloadOn401 && (this.opts.agentToken.current !== sent || this.opts.agentToken.reload('401'))) {
          retriedAuth = true;
          continue;
        }
        if (r.status !== 429 && r.status < 500) throw error;
        delay = retryAfterMs(r.retryAfter, retry.backoff.capMs);
      } catch (err) {
        if (err instanceof HubError && err.status !== undefined && err.status !== 429 && err.status < 500) throw err;
        error = err instanceof HubError ? err : new HubError(`${method} ${path}: ${(err as Error).message}`, undefined, undefined);
      }
      if (this.closed || attempt >= retry.retries) throw error;
      const wait = delay ?? fullJitter(attempt, retry.backoff);
      if (retry.deadline !== undefined && Date.now() + wait >= retry.deadline) throw error;
      this.opts.log.debug({ path, attempt: attempt + 1, waitMs: wait, status: error.status, err: error.message }, 'hub call failed; retrying');
      attempt++;
      await sleep(wait);
    }
  }

  private async once(method: string, path: string, body: unknown, deadline: number | undefined): Promise<HubResponse & { retryAfter: string | undefined }> {
    // No attempt outlives the caller's deadline (shutdown reports are bounded by it).
    const timeoutMs = deadline === undefined ? this.opts.timeoutMs : Math.max(1, Math.min(this.opts.timeoutMs, deadline - Date.now()));
    const headers: Record<string, string> = { 'user-agent': `sciontool/${VERSION}`, accept: 'application/json' };
    const token = this.opts.agentToken.current;
    if (token) headers[AGENT_TOKEN_HEADER] = token;
    const outer = await this.opts.transport.header();
    if (outer) headers[outer[0]] = outer[1];
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    const r = await fetch(`${this.opts.endpoint}${path}`, {
      method,
      headers,
      body: payload,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.shutdown.signal]),
    });
    const text = await r.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: r.status, body: parsed, retryAfter: r.headers.get('retry-after') ?? undefined };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.shutdown.abort();
  }
}

function toHubError(r: HubResponse, path: string): HubError {
  const env = r.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const code = typeof env?.error?.code === 'string' ? env.error.code : undefined;
  const msg = typeof env?.error?.message === 'string' ? env.error.message : `HTTP ${r.status}`;
  return new HubError(`${path}: ${r.status} ${msg}`, r.status, code);
}
