/**
 * Tokens for the assigned service account, fetched from the Hub (gcp-token,
 * gcp-identity-token). Cached per scope set and per (audience, format); any number of
 * concurrent misses share one Hub call; entries refresh in the background so a served
 * access token keeps at least 10 minutes while the Hub is healthy.
 */
import type { HubClient } from '../hub/client.js';
import type { Logger } from '../log.js';
import { PATHS } from '../wire.js';
import { tokenTimes } from '../credentials/jwt.js';

export class TokenUnavailable extends Error {}

interface Entry {
  value: string;
  /** ms since the epoch */
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** Refresh this long before expiry, in the background. */
const ACCESS_REFRESH_BEFORE_MS = 15 * 60_000;
/** Never serve an access token with less than this left while a fresh one can be had. */
const ACCESS_MIN_SERVE_MS = 10 * 60_000;
const ID_REFRESH_BEFORE_MS = 10 * 60_000;
/** Distinct scope sets or audiences kept; an agent asking for ever new ones must not grow init. */
const MAX_ENTRIES = 64;

export interface TokenSource {
  accessToken(scopes: string[]): Promise<{ token: string; expiresIn: number }>;
  idToken(audience: string, format: string): Promise<string>;
  close(): void;
}

export class HubTokenSource implements TokenSource {
  private readonly access = new Map<string, Entry>();
  private readonly ids = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();

  constructor(
    private readonly client: HubClient,
    private readonly log: Logger,
    private readonly defaultScopes: string[],
  ) {}

  async accessToken(requested: string[]): Promise<{ token: string; expiresIn: number }> {
    const scopes = requested.length > 0 ? [...new Set(requested)].sort() : [...this.defaultScopes].sort();
    const key = `access:${scopes.join(' ')}`;
    let e = this.access.get(key);
    if (!e || e.expiresAt - Date.now() < ACCESS_MIN_SERVE_MS) {
      try {
        e = await this.fetch(key, () => this.fetchAccess(scopes), this.access, ACCESS_REFRESH_BEFORE_MS);
      } catch (err) {
        // A token that is still valid beats no token while the Hub is down.
        if (e && e.expiresAt - Date.now() > 60_000) this.log.warn({ err: (err as Error).message }, 'Hub refresh failed; serving the cached access token');
        else throw err;
      }
    }
    return { token: e.value, expiresIn: Math.max(1, Math.floor((e.expiresAt - Date.now()) / 1000)) };
  }

  async idToken(audience: string, format: string): Promise<string> {
    const key = `id:${format}:${audience}`;
    let e = this.ids.get(key);
    if (!e || e.expiresAt - Date.now() < ID_REFRESH_BEFORE_MS / 2) {
      e = await this.fetch(key, () => this.fetchId(audience), this.ids, ID_REFRESH_BEFORE_MS);
    }
    return e.value;
  }

  /** One Hub call per key at a time; the result is cached and refreshed ahead of expiry. */
  private fetch(key: string, get: () => Promise<{ value: string; expiresAt: number }>, cache: Map<string, Entry>, refreshBeforeMs: number): Promise<Entry> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = get()
      .then((r) => {
        const old = cache.get(key);
        if (old?.timer) clearTimeout(old.timer);
        const entry: Entry = { ...r, timer: undefined };
        if (!cache.has(key) && cache.size >= MAX_ENTRIES) {
          // Forget the oldest (Maps keep insertion order), and its refresh timer with it.
          const [oldestKey, oldest] = cache.entries().next().value as [string, Entry];
          if (oldest.timer) clearTimeout(oldest.timer);
          cache.delete(oldestKey);
        }
        const due = r.expiresAt - refreshBeforeMs - Date.now();
        if (due > 0 && !this.closed) {
          entry.timer = setTimeout(() => {
            this.fetch(key, get, cache, refreshBeforeMs).catch((err: unknown) => this.log.warn({ key: key.split(':')[0], err: (err as Error).message }, 'background token refresh failed'));
          }, Math.min(due, 2 ** 31 - 1));
          entry.timer.unref();
        }
        cache.set(key, entry);
        return entry;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  // Hub calls are bounded by 4 s: Go's metadata client gives up after 5 s, and a 503 it
  // can retry is better than a timeout.
  private async fetchAccess(scopes: string[]): Promise<{ value: string; expiresAt: number }> {
    try {
      const r = await this.client.call('POST', PATHS.gcpToken, { scopes }, { retries: 1, backoff: { baseMs: 200, capMs: 1000 }, deadline: Date.now() + 4000 });
      const b = r.body as { access_token?: unknown; expires_in?: unknown };
      if (typeof b?.access_token !== 'string' || typeof b.expires_in !== 'number') throw new Error('malformed gcp-token response');
      return { value: b.access_token, expiresAt: Date.now() + b.expires_in * 1000 };
    } catch (err) {
      throw new TokenUnavailable(`access token from the Hub: ${(err as Error).message}`);
    }
  }

  private async fetchId(audience: string): Promise<{ value: string; expiresAt: number }> {
    try {
      const r = await this.client.call('POST', PATHS.gcpIdentityToken, { audience }, { retries: 1, backoff: { baseMs: 200, capMs: 1000 }, deadline: Date.now() + 4000 });
      const b = r.body as { token?: unknown };
      if (typeof b?.token !== 'string') throw new Error('malformed gcp-identity-token response');
      const exp = tokenTimes(b.token)?.exp;
      return { value: b.token, expiresAt: exp ? exp * 1000 : Date.now() + 3_600_000 };
    } catch (err) {
      throw new TokenUnavailable(`identity token from the Hub: ${(err as Error).message}`);
    }
  }

  private closed = false;

  close(): void {
    this.closed = true;
    for (const e of [...this.access.values(), ...this.ids.values()]) if (e.timer) clearTimeout(e.timer);
  }
}

/** No Hub: every token request fails the way a Hub outage does. */
export class NoTokenSource implements TokenSource {
  async accessToken(): Promise<never> {
    throw new TokenUnavailable('no Hub is configured to mint tokens');
  }
  async idToken(): Promise<never> {
    throw new TokenUnavailable('no Hub is configured to mint tokens');
  }
  close(): void {}
}
