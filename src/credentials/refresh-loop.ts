/**
 * Refreshes the agent token (and, through the refresh response's tokens[], the
 * transport token) before they expire, driven by whichever expires first. Failures
 * back off exponentially with jitter up to a cap; 401/403 is "auth lost", reported
 * once, and the loop keeps going so it recovers by itself when a valid token lands in
 * the file (see AgentToken.reload and restart()).
 */
import type { HubClient, HubError } from '../hub/client.js';
import type { TransportSource } from '../hub/transport.js';
import type { Logger } from '../log.js';
import type { BackoffPolicy } from '../util/backoff.js';
import { PATHS, type TokenEntry } from '../wire.js';
import type { AgentToken } from './agent-token.js';
import { looksLikeJwt, tokenTimes } from './jwt.js';

/** Scion refreshes 10 h tokens 2 h early; shorter tokens refresh at the same 80% point. */
export function appRefreshAt(token: string, nowS: number): number | undefined {
  const t = tokenTimes(token);
  if (!t) return undefined;
  const ttl = Math.max(1, t.exp - (t.iat ?? nowS));
  const margin = Math.min(7200, Math.max(1, ttl / 5));
  return t.exp - margin;
}

/** Transport tokens refresh 5 minutes early, or at their 80% point when shorter. */
export function transportRefreshAt(token: string, nowS: number): number | undefined {
  const t = tokenTimes(token);
  if (!t) return undefined;
  const ttl = Math.max(1, t.exp - (t.iat ?? nowS));
  return t.exp - Math.min(300, Math.max(1, ttl / 5));
}

export interface RefreshLoopOptions {
  client: HubClient;
  agentId: string;
  agentToken: AgentToken;
  transport: TransportSource;
  transportToken: () => string | undefined;
  backoff: BackoffPolicy;
  log: Logger;
  onAuthLost: (message: string) => void;
  onAuthRestored: () => void;
  random?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class RefreshLoop {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private authLost = false;
  private stopped = true;
  private running: Promise<void> | undefined;
  /** A transport token a refresh did not replace (the Hub sent none): it no longer drives the schedule. */
  private stuckTransport: string | undefined;
  /** Set by restart(): a reload rescheduled while a call was in flight. */
  private rescheduled = false;
  /** Refresh attempts made (the 1 s floor applies from the second on). */
  private attempts = 0;

  constructor(private readonly opts: RefreshLoopOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(undefined);
  }

  /** A new token arrived from outside: its exp sets the schedule, and auth is back. */
  restart(): void {
    this.failures = 0;
    this.rescheduled = true;
    this.restored();
    this.schedule(undefined);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** When the next refresh is due (ms since the epoch), or undefined with no token. */
  dueAt(): number | undefined {
    const nowS = Date.now() / 1000;
    const app = this.opts.agentToken.current;
    const times = [app ? appRefreshAt(app, nowS) : undefined];
    const outer = this.opts.transportToken();
    if (outer && outer !== this.stuckTransport) times.push(transportRefreshAt(outer, nowS));
    const due = times.filter((t): t is number => t !== undefined);
    return due.length === 0 ? undefined : Math.min(...due) * 1000;
  }

  private schedule(delayMs: number | undefined): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let delay = delayMs;
    if (delay === undefined) {
      const due = this.dueAt();
      if (due === undefined) return; // nothing to refresh until a token arrives
      // Never sooner than a second after the last attempt: a token that is already due
      // (or one the Hub will not replace) must not turn this into a hot loop.
      delay = Math.max(this.attempts > 0 ? 1000 : 0, due - Date.now());
    }
    this.timer = setTimeout(() => void this.tick(), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    const { client, agentId, log } = this.opts;
    const outerBefore = this.opts.transportToken();
    this.attempts++;
    this.rescheduled = false;
    this.running = client
      .call('POST', PATHS.agentTokenRefresh(agentId), undefined, { retries: 0, backoff: this.opts.backoff })
      .then((r) => {
        this.apply(r.body);
        const outerAfter = this.opts.transportToken();
        this.stuckTransport = outerAfter !== undefined && outerAfter === outerBefore ? outerAfter : undefined;
        this.failures = 0;
        this.restored();
        log.info({ exp: this.opts.agentToken.expiresAt }, 'agent token refreshed');
        this.schedule(undefined);
      })
      .catch((err: unknown) => {
        const e = err as HubError;
        // A reload during the call already rescheduled from the new token.
        if (this.rescheduled) return;
        if (e.authLost) {
          if (!this.authLost) {
            this.authLost = true;
            const message = 'AUTH_LOST: the Hub refused the agent token and it could not be refreshed; waiting for a new token in the token file';
            log.error({ status: e.status, err: e.message }, message);
            this.opts.onAuthLost(message);
          }
        } else {
          log.warn({ status: e.status, err: e.message, failures: this.failures + 1 }, 'agent token refresh failed; backing off');
        }
        const { baseMs, capMs } = this.opts.backoff;
        const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(this.failures, 30));
        // Full jitter above a floor of one base step: never a hot loop.
        const delay = baseMs + Math.floor((this.opts.random ?? Math.random)() * Math.max(0, ceiling - baseMs));
        this.failures++;
        this.schedule(delay);
      })
      .finally(() => {
        this.running = undefined;
      });
    await this.running;
  }

  private apply(body: unknown): void {
    const b = body as { token?: unknown; tokens?: unknown } | undefined;
    const entries = Array.isArray(b?.tokens) ? (b.tokens as TokenEntry[]) : [];
    let app = entries.find((e) => e?.layer === 'app' && typeof e.value === 'string')?.value;
    // Hubs without tokens[] send the app token alone.
    if (app === undefined && typeof b?.token === 'string') app = b.token;
    if (app === undefined || !looksLikeJwt(app)) throw new Error('refresh response carries no usable token');
    this.opts.agentToken.update(app);
    const outer = entries.find((e) => e?.layer === 'transport' && typeof e.value === 'string');
    if (outer && looksLikeJwt(outer.value)) {
      try {
        this.opts.transport.update(outer.value);
      } catch (err) {
        // The app token is already in place; a transport file we cannot write must not stop the loop.
        this.opts.log.warn({ err: (err as Error).message }, 'could not store the new transport token');
      }
    }
    const te = (body as { transportError?: unknown }).transportError;
    if (typeof te === 'string') this.opts.log.warn({ transportError: te }, 'the Hub could not refresh the transport token');
  }

  private restored(): void {
    if (!this.authLost) return;
    this.authLost = false;
    this.opts.log.info('auth restored: the Hub accepts the agent token again');
    this.opts.onAuthRestored();
  }
}
