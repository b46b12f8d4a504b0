/**
 * Init's link to the Hub: the agent token file and its three reload paths (watcher,
 * SIGUSR2, 401), the transport layer, the refresh loop and the status reporter, wired
 * together. Absent in local mode. Nothing here can block the child or hold up
 * shutdown beyond the bounds of its reports.
 */
import { join } from 'node:path';
import type { HubConfig } from '../config.js';
import { AgentToken, type ReloadReason } from '../credentials/agent-token.js';
import { RefreshLoop } from '../credentials/refresh-loop.js';
import { type Owner, TokenFile } from '../credentials/token-file.js';
import { CredentialWatch } from '../credentials/watcher.js';
import { HubClient } from '../hub/client.js';
import { StatusReporter } from '../hub/status.js';
import { FileTransport, MetadataTransport, NoTransport, type TransportHeaderMode, type TransportSource } from '../hub/transport.js';
import type { Logger } from '../log.js';
import type { AgentIdentity } from '../supervisor/users.js';
import type { BackoffPolicy } from '../util/backoff.js';

export interface Outcome {
  exitCode: number;
  /** A stop was asked for (signal or limit). */
  requested: boolean;
  limit: string | undefined;
}

const REPORT_TIMEOUT_MS = 5_000;
/** Shutdown reports share Docker's 10 s with the grace period: keep them short. */
const SHUTDOWN_REPORT_TIMEOUT_MS = 1_000;

/** Whether a real metadata server answers, without waiting long off GCP. */
async function metadataServerAnswers(host: string): Promise<boolean> {
  try {
    const r = await fetch(`http://${host}/`, { headers: { 'metadata-flavor': 'Google' }, signal: AbortSignal.timeout(500) });
    await r.arrayBuffer();
    return r.headers.get('metadata-flavor') === 'Google';
  } catch {
    return false;
  }
}

export class HubLink {
  readonly agentToken: AgentToken;
  private transport: TransportSource = new NoTransport();
  private transportFile: TokenFile | undefined;
  client!: HubClient;
  private refresh!: RefreshLoop;
  private reporter!: StatusReporter;
  private watch: CredentialWatch | undefined;
  private readonly backoff: BackoffPolicy;

  constructor(
    private readonly cfg: HubConfig,
    private readonly identity: AgentIdentity,
    private readonly log: Logger,
  ) {
    const owner: Owner | undefined = (process.getuid?.() ?? 0) === 0 && identity.user ? { uid: identity.uid, gid: identity.gid } : undefined;
    const tokenPath = cfg.tokenFile ?? join(identity.home, '.scion', 'scion-token');
    this.agentToken = new AgentToken(new TokenFile(tokenPath, owner), log.child({ component: 'credentials' }));
    this.transportFile = new TokenFile(cfg.transport.tokenFile ?? join(identity.home, '.scion', 'transport-token'), owner);
    this.backoff = { baseMs: 1000, capMs: cfg.refreshBackoffMaxMs };
  }

  /** Sets up credentials and starts the refresh loop. Returns variables for the child. */
  async start(bootstrap: { authToken: string | undefined; transportToken: string | undefined }): Promise<Record<string, string>> {
    const { cfg, log } = this;
    this.agentToken.bootstrap(bootstrap.authToken);
    const childEnv: Record<string, string> = {};
    this.transport = await this.chooseTransport(bootstrap.transportToken);
    if (this.transport.kind === 'file' && this.transportFile) childEnv.SCION_TRANSPORT_TOKEN_FILE = this.transportFile.path;

    this.client = new HubClient({
      endpoint: cfg.endpoint,
      agentToken: this.agentToken,
      transport: this.transport,
      timeoutMs: cfg.requestTimeoutMs,
      reloadOn401: cfg.reloadPaths.has('401'),
      log: log.child({ component: 'hub' }),
    });
    this.reporter = new StatusReporter({
      client: this.client,
      agentId: cfg.agentId,
      heartbeatMs: cfg.heartbeatMs,
      backoff: { baseMs: 500, capMs: 5_000 },
      reportTimeoutMs: REPORT_TIMEOUT_MS,
      log: log.child({ component: 'status' }),
    });
    this.refresh = new RefreshLoop({
      client: this.client,
      agentId: cfg.agentId,
      agentToken: this.agentToken,
      transport: this.transport,
      transportToken: () => (this.transport.kind === 'file' ? this.transportToken() : undefined),
      backoff: this.backoff,
      log: log.child({ component: 'refresh' }),
      onAuthLost: (message) => void this.reporter.report({ message }),
      onAuthRestored: () => void this.reporter.report({ message: '' }),
    });
    this.agentToken.on('reloaded', (reason) => {
      this.refresh.restart();
      // After a 401 the failed call itself retries with the new token.
      if (reason !== '401') void this.reporter.beat();
    });

    const files = [this.agentToken.file.path, ...(this.transport.kind === 'file' && this.transportFile ? [this.transportFile.path] : [])];
    this.watch = new CredentialWatch({
      files,
      pollMs: cfg.reloadPaths.has('watch') ? cfg.tokenPollMs : 0,
      log,
      onChange: (file, via) => this.onFileChange(file, via),
    });
    if (cfg.reloadPaths.has('watch')) this.watch.start(true);
    this.refresh.start();
    log.info(
      { hub: cfg.endpoint, agentId: cfg.agentId, tokenFile: this.agentToken.file.path, transport: this.transport.kind, reloadPaths: [...cfg.reloadPaths] },
      'connected to the Hub (credentials ready)',
    );
    return childEnv;
  }

  private transportToken(): string | undefined {
    const r = this.transportFile?.read();
    return r?.ok ? r.token : undefined;
  }

  private async chooseTransport(injected: string | undefined): Promise<TransportSource> {
    const { cfg, log } = this;
    const t = cfg.transport;
    if (t.mode === 'none') return new NoTransport();
    const mode: TransportHeaderMode = t.mode;
    const file = this.transportFile as TokenFile;
    if (injected !== undefined) {
      // Out of the environment, into a 0600 file the agent user owns.
      file.write(injected);
      log.info({ file: file.path, mode, audience: t.audience, expiry: t.expiry }, 'transport token moved from the environment to its file');
      return new FileTransport(file, mode, log);
    }
    if (file.read().ok) return new FileTransport(file, mode, log);
    if (cfg.metadataMode === undefined || cfg.metadataMode === 'passthrough') {
      if (await metadataServerAnswers(t.metadataHost)) {
        const audience = t.oidcAudience ?? t.audience ?? cfg.endpoint;
        log.info({ metadataHost: t.metadataHost, audience, mode }, 'transport tokens from the metadata server');
        return new MetadataTransport(t.metadataHost, audience, mode, log);
      }
    }
    return new NoTransport();
  }

  private onFileChange(file: string, via: 'watch' | 'poll'): void {
    if (file === this.agentToken.file.path) {
      this.agentToken.reload(via);
    } else if (this.transport.reload()) {
      this.refresh.restart();
    }
  }

  /** SIGUSR2: re-read the token file now. */
  reloadFromSignal(): void {
    if (!this.cfg.reloadPaths.has('signal')) {
      this.log.info('SIGUSR2 received, but the signal reload path is off (SCION_TOKEN_RELOAD)');
      return;
    }
    const changed = this.agentToken.reload('signal' satisfies ReloadReason);
    const t = this.transport.reload();
    if (t && !changed) this.refresh.restart();
    if (!changed && !t) this.log.info('SIGUSR2: token file unchanged');
  }

  running(startedAt: Date): void {
    void this.reporter.report({ phase: 'running', activity: 'idle', status: 'idle', message: 'Agent started', startedAt: startedAt.toISOString() });
    this.reporter.startHeartbeat();
  }

  stopping(): void {
    this.reporter.stopHeartbeat();
    void this.reporter.report({ phase: 'stopping', status: 'stopping', message: 'Agent shutting down' }, SHUTDOWN_REPORT_TIMEOUT_MS);
  }

  /** The last report; bounded, so a dead Hub costs at most a second of shutdown. */
  async finished(o: Outcome): Promise<void> {
    this.reporter.stopHeartbeat();
    let update;
    if (o.limit !== undefined) {
      update = { phase: 'stopped' as const, activity: 'limits_exceeded' as const, status: 'limits_exceeded', message: `Agent stopped: limit exceeded (${o.limit})`, exitCode: o.exitCode };
    } else if (o.exitCode !== 0 && !o.requested) {
      update = { phase: 'error' as const, status: 'error', message: `Agent crashed with exit code ${o.exitCode}`, exitCode: o.exitCode };
    } else {
      update = { phase: 'stopped' as const, status: 'stopped', message: 'Agent stopped', exitCode: o.exitCode };
    }
    await this.reporter.report(update, SHUTDOWN_REPORT_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    this.refresh.stop();
    this.reporter.stopHeartbeat();
    await this.watch?.stop();
    await this.client.close();
  }
}
