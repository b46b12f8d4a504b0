/**
 * `sciontool metadata`: the emulator on its own, from the same environment as init,
 * for local development (point GCE_METADATA_HOST at it). No interception, no child.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { InitConfig } from '../config.js';
import { AgentToken } from '../credentials/agent-token.js';
import { TokenFile } from '../credentials/token-file.js';
import { HubClient } from '../hub/client.js';
import { NoTransport } from '../hub/transport.js';
import type { Logger } from '../log.js';
import { attachSignalHandler } from '../supervisor/signals.js';
import { MetadataService } from './service.js';

export async function runMetadataCommand(config: InitConfig, log: Logger): Promise<number> {
  const cfg = config.metadata;
  if (!cfg) throw new Error('SCION_METADATA_MODE must be set to block, assign or passthrough');
  let client: HubClient | undefined;
  if (config.hub) {
    const agentToken = new AgentToken(new TokenFile(config.hub.tokenFile ?? join(homedir(), '.scion', 'scion-token'), undefined), log);
    agentToken.bootstrap(config.bootstrap.authToken);
    client = new HubClient({ endpoint: config.hub.endpoint, agentToken, transport: new NoTransport(), timeoutMs: config.hub.requestTimeoutMs, reloadOn401: true, log });
  }
  const service = new MetadataService(cfg, client, log);
  await service.start();
  log.info({ url: `http://127.0.0.1:${cfg.port}`, env: service.childEnv() }, 'metadata emulator ready; stop it with SIGTERM or Ctrl-C');
  await new Promise<void>((resolve) => {
    attachSignalHandler((s) => {
      if (s === 'SIGTERM' || s === 'SIGINT') resolve();
    });
  });
  await service.close();
  await client?.close();
  return 0;
}
