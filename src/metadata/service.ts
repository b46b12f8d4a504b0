/**
 * The metadata service init runs: the emulator (assign, block) or the filtering proxy
 * (passthrough with SCION_METADATA_PROXY=on), on 127.0.0.1 and, when the host has it,
 * [::1] (ip6tables REDIRECT lands there), at SCION_METADATA_PORT.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { MetadataConfig } from '../config.js';
import type { HubClient } from '../hub/client.js';
import type { Logger } from '../log.js';
import { HubTokenSource, NoTokenSource, type TokenSource } from './identity-tokens.js';
import { createProxyHandler } from './proxy.js';
import { MetadataHandler } from './server.js';

export class MetadataService {
  private servers: Server[] = [];
  tokens: TokenSource = new NoTokenSource();
  handler: MetadataHandler | undefined;

  constructor(
    private readonly cfg: MetadataConfig,
    private readonly hub: HubClient | undefined,
    private readonly log: Logger,
  ) {}

  /** Whether anything needs to listen: the emulator, or passthrough's optional proxy. */
  get listens(): boolean {
    return this.cfg.mode !== 'passthrough' || this.cfg.proxy;
  }

  async start(): Promise<void> {
    const { cfg, log } = this;
    if (!this.listens) {
      log.info('metadata: passthrough, nothing intercepted; the agent reaches the real metadata server');
      return;
    }
    let handle: (req: IncomingMessage, res: ServerResponse) => void;
    if (cfg.mode === 'passthrough') {
      handle = await createProxyHandler(cfg.upstream, cfg.hide, log);
    } else {
      if (cfg.mode === 'assign') {
        if (this.hub) this.tokens = new HubTokenSource(this.hub, log, cfg.scopes);
        else log.warn('metadata: assign mode without a Hub: token requests will answer 503');
      }
      this.handler = new MetadataHandler({ cfg, tokens: this.tokens, log });
      handle = this.handler.handle;
    }
    await this.listen('127.0.0.1', handle, true);
    await this.listen('::1', handle, false);
    log.info({ mode: cfg.mode, port: cfg.port, serviceAccount: cfg.serviceAccount, proxy: cfg.mode === 'passthrough' }, 'metadata server listening');
    if (cfg.mode === 'assign' && this.hub) {
      // Pre-warm: the first client request should not wait for a Hub round trip.
      this.tokens.accessToken([]).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'metadata: could not pre-fetch the default access token'));
    }
  }

  private async listen(host: string, handle: (req: IncomingMessage, res: ServerResponse) => void, required: boolean): Promise<void> {
    // A static import of node:http would load Node's internal undici at start-up in every
    // container, metadata or not: esbuild hoists builtin imports to the top of the bundle.
    const { createServer } = await import('node:http');
    const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 30_000 }, handle);
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (!required) {
          this.log.debug({ host, err: err.code }, 'metadata: not listening on this address');
          resolve();
          return;
        }
        reject(new Error(`metadata server cannot listen on ${host}:${this.cfg.port}: ${err.code ?? err.message}`));
      });
      server.listen(this.cfg.port, host, () => {
        this.servers.push(server);
        resolve();
      });
    });
  }

  /** The variables that point clients at the emulator without iptables. */
  childEnv(): Record<string, string> {
    if (this.cfg.mode === 'passthrough' || !this.cfg.childEnv) return {};
    const hostPort = `127.0.0.1:${this.cfg.port}`;
    return { GCE_METADATA_HOST: hostPort, GCE_METADATA_ROOT: hostPort, GCE_METADATA_IP: hostPort };
  }

  async close(): Promise<void> {
    this.tokens.close();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.closeAllConnections();
            s.close(() => r());
          }),
      ),
    );
    this.servers = [];
  }
}
