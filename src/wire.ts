/**
 * The Hub's agent-facing wire contract: paths, headers and JSON shapes. Shared by
 * sciontool (client) and hub-stub (server); neither side imports the other's code.
 */

export const AGENT_TOKEN_HEADER = 'x-scion-agent-token';

export const PATHS = {
  healthz: '/healthz',
  readyz: '/readyz',
  agentStatus: (id: string) => `/api/v1/agents/${encodeURIComponent(id)}/status`,
  agentTokenRefresh: (id: string) => `/api/v1/agents/${encodeURIComponent(id)}/token/refresh`,
  gcpToken: '/api/v1/agent/gcp-token',
  gcpIdentityToken: '/api/v1/agent/gcp-identity-token',
} as const;

/** Agent JWT claims (Scion's agenttoken.go, with the later `project_id`). */
export const AGENT_TOKEN_ISSUER = 'scion-hub';
export const AGENT_TOKEN_AUDIENCE = 'scion-hub-api';

export const SCOPES = {
  statusUpdate: 'agent:status:update',
  tokenRefresh: 'agent:token:refresh',
  notify: 'grove:agent:notify',
  /** Followed by the service account id (its email here). */
  gcpTokenPrefix: 'project:gcp:token:',
  /** Baseline spelling of the same scope, still accepted. */
  gcpTokenPrefixLegacy: 'grove:gcp:token:',
} as const;

export const PHASES = ['created', 'provisioning', 'cloning', 'starting', 'running', 'suspended', 'stopping', 'stopped', 'error'] as const;
export type Phase = (typeof PHASES)[number];

export const ACTIVITIES = [
  'idle',
  'working',
  'thinking',
  'executing',
  'waiting_for_input',
  'blocked',
  'completed',
  'limits_exceeded',
  'crashed',
  'stalled',
  'offline',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

/** POST /api/v1/agents/{id}/status body; every field optional. */
export interface StatusUpdate {
  phase?: Phase;
  activity?: Activity;
  toolName?: string;
  status?: string;
  message?: string;
  taskSummary?: string;
  heartbeat?: boolean;
  metadata?: Record<string, string>;
  currentTurns?: number;
  currentModelCalls?: number;
  startedAt?: string;
  exitCode?: number;
}

export type TokenLayer = 'app' | 'transport';

export interface TokenEntry {
  layer: TokenLayer;
  type: 'scion_access' | 'google_oidc';
  value: string;
  /** Seconds from now. */
  expiresIn: number;
  audience?: string;
}

/** POST /api/v1/agents/{id}/token/refresh response. */
export interface TokenRefreshResponse {
  token: string;
  /** RFC 3339, UTC. */
  expires_at: string;
  tokens?: TokenEntry[];
  transportError?: string;
}

export interface GcpTokenRequest {
  scopes?: string[];
}
export interface GcpTokenResponse {
  access_token: string;
  expires_in: number;
  token_type: 'Bearer';
}
export interface GcpIdentityTokenRequest {
  audience: string;
}
export interface GcpIdentityTokenResponse {
  token: string;
}

export interface ErrorEnvelope {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

export const METADATA_MODES = ['block', 'assign', 'passthrough'] as const;
export type MetadataMode = (typeof METADATA_MODES)[number];

export const TRANSPORT_MODES = ['none', 'iap', 'cloudrun_invoker'] as const;
export type TransportMode = (typeof TRANSPORT_MODES)[number];

export const DEFAULT_METADATA_PORT = 18380;
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
