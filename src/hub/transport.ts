/**
 * The outer (transport) layer for Hubs behind IAP or Cloud Run: a Google ID token in
 * a header chosen by SCION_TRANSPORT_MODE. Sources, in order: the injected token
 * (moved from the environment into a 0600 file at start), a transport token file, the
 * real GCE metadata server's identity endpoint, or none.
 */
import { looksLikeJwt, tokenTimes } from '../credentials/jwt.js';
import type { TokenFile } from '../credentials/token-file.js';
import type { Logger } from '../log.js';

export type TransportHeaderMode = 'iap' | 'cloudrun_invoker' | 'bearer';

export function transportHeaderName(mode: TransportHeaderMode): string {
  if (mode === 'iap') return 'proxy-authorization';
  if (mode === 'cloudrun_invoker') return 'x-serverless-authorization';
  return 'authorization';
}

export interface TransportSource {
  readonly kind: 'file' | 'metadata' | 'none';
  /** The header to send, or undefined to send none (never blocks for long). */
  header(): Promise<[string, string] | undefined>;
  /** When the held token expires (seconds since the epoch), for the refresh schedule. */
  expiresAt(): number | undefined;
  /** A token from the refresh response's tokens[]. */
  update(token: string): void;
  /** Re-reads the backing file; true when the token changed. */
  reload(): boolean;
}

export class NoTransport implements TransportSource {
  readonly kind = 'none';
  async header(): Promise<undefined> {
    return undefined;
  }
  expiresAt(): undefined {
    return undefined;
  }
  update(): void {}
  reload(): boolean {
    return false;
  }
}

/** Injected and file sources: the token lives in a file the broker or the refresh loop writes. */
export class FileTransport implements TransportSource {
  readonly kind = 'file';
  private token: string | undefined;

  constructor(
    readonly file: TokenFile,
    private readonly mode: TransportHeaderMode,
    private readonly log: Logger,
  ) {
    this.reload();
  }

  async header(): Promise<[string, string] | undefined> {
    return this.token ? [transportHeaderName(this.mode), `Bearer ${this.token}`] : undefined;
  }

  expiresAt(): number | undefined {
    return this.token ? tokenTimes(this.token)?.exp : undefined;
  }

  update(token: string): void {
    this.file.write(token);
    this.token = token;
  }

  reload(): boolean {
    const r = this.file.read();
    if (!r.ok || r.token === this.token || !looksLikeJwt(r.token)) return false;
    this.token = r.token;
    this.log.info({ file: this.file.path, exp: tokenTimes(r.token)?.exp }, 'adopted a transport token from its file');
    return true;
  }
}

const METADATA_TIMEOUT_MS = 2000;
const REFRESH_MARGIN_S = 300;

/** The real metadata server's ID token for the Hub's audience (ambient GCP identity). */
export class MetadataTransport implements TransportSource {
  readonly kind = 'metadata';
  private token: string | undefined;
  private exp = 0;
  private inflight: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly metadataHost: string,
    private readonly audience: string,
    private readonly mode: TransportHeaderMode,
    private readonly log: Logger,
  ) {}

  async header(): Promise<[string, string] | undefined> {
    if (!this.token || this.exp - Date.now() / 1000 < REFRESH_MARGIN_S) {
      this.inflight ??= this.fetch().finally(() => {
        this.inflight = undefined;
      });
      await this.inflight;
    }
    return this.token && this.exp > Date.now() / 1000 ? [transportHeaderName(this.mode), `Bearer ${this.token}`] : undefined;
  }

  expiresAt(): number | undefined {
    return undefined; // refreshed on demand, not through the Hub
  }

  update(): void {}

  reload(): boolean {
    return false;
  }

  private async fetch(): Promise<void> {
    const url = `http://${this.metadataHost}/computeMetadata/v1/instance/service-accounts/default/identity?audience=${encodeURIComponent(this.audience)}&format=full`;
    try {
      const r = await fetch(url, { headers: { 'metadata-flavor': 'Google' }, signal: AbortSignal.timeout(METADATA_TIMEOUT_MS) });
      const text = (await r.text()).trim();
      if (r.status !== 200 || !looksLikeJwt(text)) throw new Error(`metadata server answered ${r.status}`);
      this.token = text;
      this.exp = tokenTimes(text)?.exp ?? Math.floor(Date.now() / 1000) + 3600;
      this.lastError = undefined;
    } catch (err) {
      const msg = (err as Error).message;
      // Sent without the header, as the Go original does; said once per distinct failure.
      if (msg !== this.lastError) this.log.warn({ err: msg }, 'could not get a transport token from the metadata server');
      this.lastError = msg;
    }
  }
}
