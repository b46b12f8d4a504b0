/** The environment a broker injects into an agent's container (Scion's names). */
import { DEFAULT_METADATA_PORT } from '../../src/wire.js';
import type { AgentRecord } from './state.js';

export interface TransportBootstrap {
  token: string;
  audience: string;
  expiresAt: Date;
}

export function dispatchEnv(agent: AgentRecord, hubUrl: string, token: string, transport: TransportBootstrap | undefined): Record<string, string> {
  const env: Record<string, string> = {
    SCION_HUB_ENDPOINT: hubUrl,
    SCION_HUB_URL: hubUrl,
    SCION_AGENT_ID: agent.id,
    SCION_AGENT_NAME: agent.name,
    SCION_PROJECT_ID: agent.projectId,
    SCION_GROVE_ID: agent.projectId,
    SCION_AUTH_TOKEN: token,
    SCION_METADATA_MODE: agent.metadataMode,
  };
  if (agent.metadataMode !== 'passthrough') {
    const hostPort = `127.0.0.1:${DEFAULT_METADATA_PORT}`;
    env.SCION_METADATA_PORT = String(DEFAULT_METADATA_PORT);
    env.SCION_METADATA_PROJECT_ID = agent.projectId;
    env.GCE_METADATA_HOST = hostPort;
    env.GCE_METADATA_ROOT = hostPort;
    env.GCE_METADATA_IP = hostPort;
    if (agent.metadataMode === 'assign' && agent.serviceAccountEmail) env.SCION_METADATA_SA_EMAIL = agent.serviceAccountEmail;
  }
  if (transport) {
    env.SCION_TRANSPORT_MODE = agent.transport.mode;
    env.SCION_TRANSPORT_TOKEN = transport.token;
    env.SCION_TRANSPORT_AUDIENCE = transport.audience;
    env.SCION_TRANSPORT_TOKEN_EXPIRY = transport.expiresAt.toISOString();
  }
  return env;
}
