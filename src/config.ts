/**
 * Environment -> typed configuration, validated once. Every bad value becomes one
 * ConfigError line naming the variable, the value and what is allowed; components
 * never read process.env themselves.
 */
import { DurationError, parseDuration } from './util/duration.js';

export class ConfigError extends Error {}

export type LogFormat = 'json' | 'pretty';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Bootstrap secrets: consumed by init, never passed to the child or to hooks. */
export const BOOTSTRAP_SECRET_VARS = ['SCION_AUTH_TOKEN', 'SCION_TRANSPORT_TOKEN'] as const;

export const RELOAD_PATHS = ['watch', 'signal', '401'] as const;
export type ReloadPath = (typeof RELOAD_PATHS)[number];

export type TransportModeSetting = 'iap' | 'cloudrun_invoker' | 'bearer' | 'none';

/** Present only when a Hub is configured (endpoint and agent id); else init runs locally. */
export interface HubConfig {
  endpoint: string;
  agentId: string;
  /** undefined = `<agent home>/.scion/scion-token`. */
  tokenFile: string | undefined;
  heartbeatMs: number;
  requestTimeoutMs: number;
  refreshBackoffMaxMs: number;
  tokenPollMs: number;
  reloadPaths: ReadonlySet<ReloadPath>;
  metadataMode: 'block' | 'assign' | 'passthrough' | undefined;
  transport: {
    mode: TransportModeSetting;
    /** undefined = `<agent home>/.scion/transport-token`. */
    tokenFile: string | undefined;
    audience: string | undefined;
    expiry: string | undefined;
    oidcAudience: string | undefined;
    /** Where the real metadata server is (GCE_METADATA_HOST, else 169.254.169.254). */
    metadataHost: string;
  };
}

export interface MetadataConfig {
  mode: 'block' | 'assign' | 'passthrough';
  port: number;
  serviceAccount: string | undefined;
  scopes: string[];
  projectId: string;
  projectNumber: string;
  zone: string;
  instanceName: string;
  instanceId: string;
  instanceAttributes: Record<string, string>;
  projectAttributes: Record<string, string>;
  /** passthrough only: run a filtering proxy to the real server instead of leaving traffic alone. */
  proxy: boolean;
  upstream: string;
  hide: string[];
  /** iptables interception when init is root with NET_ADMIN ('auto'), or never ('off'). */
  intercept: 'auto' | 'off';
  /** Give the child GCE_METADATA_HOST/ROOT/IP (on), or rely on interception alone (off). */
  childEnv: boolean;
}

export interface InitConfig {
  /** SIGTERM -> SIGKILL escalation delay. */
  gracePeriodMs: number;
  /** Per-hook bound for pre-start, post-start and session-end after a natural exit. */
  hookTimeoutMs: number;
  /** Bound for the pre-stop phase, and for session-end hooks after a requested stop. */
  stopHookTimeoutMs: number;
  hooksDirs: string[];
  agentUser: string;
  hostUid: number | undefined;
  hostGid: number | undefined;
  maxDurationMs: number | undefined;
  /** undefined = `<agent home>/.scion/limits-exceeded`, resolved once the home is known. */
  limitsTriggerFile: string | undefined;
  extraPath: string | undefined;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Values that must never appear in a log line. */
  secretValues: string[];
  bootstrap: { authToken: string | undefined; transportToken: string | undefined };
  hub: HubConfig | undefined;
  /** Why there is no Hub, for the log. */
  localReason: string | undefined;
  /** Present when SCION_METADATA_MODE is set. */
  metadata: MetadataConfig | undefined;
}

export const DEFAULTS = {
  gracePeriodMs: 7_000,
  hookTimeoutMs: 30_000,
  stopHookTimeoutMs: 1_000,
  hooksDirs: ['/etc/scion/hooks'],
  agentUser: 'scion',
} as const;

type Env = Record<string, string | undefined>;

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

function duration(env: Env, name: string, fallback: number): number {
  const v = nonEmpty(env, name);
  if (v === undefined) return fallback;
  try {
    return parseDuration(v, name);
  } catch (err) {
    if (err instanceof DurationError) throw new ConfigError(err.message);
    throw err;
  }
}

function id(env: Env, name: string): number | undefined {
  const v = nonEmpty(env, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) > 4_294_967_294) {
    throw new ConfigError(`invalid ${name} ${JSON.stringify(v)}: must be a numeric id from 0 to 4294967294`);
  }
  return Number(v);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const v = nonEmpty(env, name);
  if (v === undefined) return fallback;
  const lower = v.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(lower)) {
    throw new ConfigError(`invalid ${name} ${JSON.stringify(v)}: allowed values are ${allowed.join(', ')}`);
  }
  return lower as T;
}

/** Names whose values are credentials, whoever set them. */
export function isSecretName(name: string): boolean {
  return /(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|CREDENTIALS)/i.test(name);
}

function absPath(env: Env, name: string): string | undefined {
  const v = nonEmpty(env, name);
  if (v !== undefined && !v.startsWith('/')) throw new ConfigError(`invalid ${name} ${JSON.stringify(v)}: must be an absolute path`);
  return v;
}

function loadHubConfig(env: Env): { hub: HubConfig | undefined; localReason: string | undefined } {
  const raw = nonEmpty(env, 'SCION_HUB_ENDPOINT') ?? nonEmpty(env, 'SCION_HUB_URL');
  const agentId = nonEmpty(env, 'SCION_AGENT_ID');
  if (raw === undefined) return { hub: undefined, localReason: 'no SCION_HUB_ENDPOINT (or SCION_HUB_URL)' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`invalid SCION_HUB_ENDPOINT ${JSON.stringify(raw)}: must be an http(s) URL such as https://hub.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`invalid SCION_HUB_ENDPOINT ${JSON.stringify(raw)}: must be an http(s) URL such as https://hub.example.com`);
  }
  if (agentId === undefined) return { hub: undefined, localReason: 'SCION_HUB_ENDPOINT is set but SCION_AGENT_ID is not' };
  const reloadRaw = nonEmpty(env, 'SCION_TOKEN_RELOAD');
  const reloadPaths = new Set<ReloadPath>(RELOAD_PATHS);
  if (reloadRaw !== undefined) {
    reloadPaths.clear();
    for (const p of reloadRaw.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
      if (!(RELOAD_PATHS as readonly string[]).includes(p)) {
        throw new ConfigError(`invalid SCION_TOKEN_RELOAD ${JSON.stringify(reloadRaw)}: a comma list of ${RELOAD_PATHS.join(', ')}`);
      }
      reloadPaths.add(p as ReloadPath);
    }
  }
  const mode = nonEmpty(env, 'SCION_METADATA_MODE');
  const metadataMode = mode === undefined ? undefined : oneOf(env, 'SCION_METADATA_MODE', ['block', 'assign', 'passthrough'] as const, 'block');
  const expiry = nonEmpty(env, 'SCION_TRANSPORT_TOKEN_EXPIRY');
  if (expiry !== undefined && Number.isNaN(Date.parse(expiry))) {
    throw new ConfigError(`invalid SCION_TRANSPORT_TOKEN_EXPIRY ${JSON.stringify(expiry)}: must be an RFC 3339 time such as 2026-06-05T12:00:00Z`);
  }
  return {
    localReason: undefined,
    hub: {
      endpoint: raw.replace(/\/+$/, ''),
      agentId,
      tokenFile: absPath(env, 'SCION_TOKEN_FILE'),
      heartbeatMs: duration(env, 'SCION_HEARTBEAT_INTERVAL', 30_000),
      requestTimeoutMs: duration(env, 'SCION_HUB_TIMEOUT', 10_000),
      refreshBackoffMaxMs: duration(env, 'SCION_REFRESH_BACKOFF_MAX', 300_000),
      tokenPollMs: duration(env, 'SCION_TOKEN_POLL_INTERVAL', 2_000),
      reloadPaths,
      metadataMode,
      transport: {
        mode: oneOf<TransportModeSetting>(env, 'SCION_TRANSPORT_MODE', ['iap', 'cloudrun_invoker', 'bearer', 'none'], 'bearer'),
        tokenFile: absPath(env, 'SCION_TRANSPORT_TOKEN_FILE'),
        audience: nonEmpty(env, 'SCION_TRANSPORT_AUDIENCE'),
        expiry,
        oidcAudience: nonEmpty(env, 'SCION_HUB_OIDC_AUDIENCE'),
        metadataHost: nonEmpty(env, 'GCE_METADATA_HOST') ?? '169.254.169.254',
      },
    },
  };
}

/** A stable number of `digits` digits derived from `seed` (ids that look real and never change). */
export function derivedDigits(seed: string, digits: number): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(seed)) h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
  const low = 10n ** BigInt(digits - 1);
  return (low + (h % (9n * low))).toString();
}

function jsonStringMap(env: Env, name: string): Record<string, string> {
  const v = nonEmpty(env, name);
  if (v === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new ConfigError(`invalid ${name}: must be a JSON object of string values, e.g. {"team":"infra"}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((x) => typeof x !== 'string')) {
    throw new ConfigError(`invalid ${name}: must be a JSON object of string values, e.g. {"team":"infra"}`);
  }
  return parsed as Record<string, string>;
}

export function loadMetadataConfig(env: Env): MetadataConfig | undefined {
  if (nonEmpty(env, 'SCION_METADATA_MODE') === undefined) return undefined;
  const mode = oneOf(env, 'SCION_METADATA_MODE', ['block', 'assign', 'passthrough'] as const, 'block');
  const portRaw = nonEmpty(env, 'SCION_METADATA_PORT') ?? '18380';
  const port = Number(portRaw);
  if (!/^\d+$/.test(portRaw) || port < 1 || port > 65535) throw new ConfigError(`invalid SCION_METADATA_PORT ${JSON.stringify(portRaw)}: must be a port number from 1 to 65535`);
  const serviceAccount = nonEmpty(env, 'SCION_METADATA_SA_EMAIL');
  if (mode === 'assign' && serviceAccount === undefined) throw new ConfigError('SCION_METADATA_MODE=assign needs SCION_METADATA_SA_EMAIL (the service account to serve)');
  if (serviceAccount !== undefined && !/^[^@\s/]+@[^@\s/]+\.[^@\s/]+$/.test(serviceAccount)) {
    throw new ConfigError(`invalid SCION_METADATA_SA_EMAIL ${JSON.stringify(serviceAccount)}: must be a service account email`);
  }
  const projectId = nonEmpty(env, 'SCION_METADATA_PROJECT_ID') ?? nonEmpty(env, 'SCION_PROJECT_ID') ?? nonEmpty(env, 'SCION_GROVE_ID') ?? 'scion-local';
  const projectNumber = nonEmpty(env, 'SCION_METADATA_PROJECT_NUMBER') ?? derivedDigits(`project:${projectId}`, 12);
  if (!/^\d{1,20}$/.test(projectNumber)) throw new ConfigError(`invalid SCION_METADATA_PROJECT_NUMBER ${JSON.stringify(projectNumber)}: must be digits`);
  const agent = nonEmpty(env, 'SCION_AGENT_ID') ?? nonEmpty(env, 'HOSTNAME') ?? 'agent';
  const instanceId = nonEmpty(env, 'SCION_METADATA_INSTANCE_ID') ?? derivedDigits(`instance:${agent}`, 19);
  if (!/^\d{1,20}$/.test(instanceId)) throw new ConfigError(`invalid SCION_METADATA_INSTANCE_ID ${JSON.stringify(instanceId)}: must be digits`);
  const zone = nonEmpty(env, 'SCION_METADATA_ZONE') ?? 'us-central1-a';
  if (!/^[a-z]+-[a-z]+\d+-[a-z]$/.test(zone)) throw new ConfigError(`invalid SCION_METADATA_ZONE ${JSON.stringify(zone)}: must be a zone such as us-central1-a`);
  const scopesRaw = nonEmpty(env, 'SCION_METADATA_SCOPES');
  const scopes = scopesRaw === undefined ? ['https://www.googleapis.com/auth/cloud-platform'] : scopesRaw.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const instanceAttributes = jsonStringMap(env, 'SCION_METADATA_ATTRIBUTES');
  if ('cluster-name' in instanceAttributes) {
    throw new ConfigError('SCION_METADATA_ATTRIBUTES must not set cluster-name: Node clients would then think they run on GKE');
  }
  return {
    mode,
    port,
    serviceAccount: mode === 'assign' ? serviceAccount : undefined,
    scopes,
    projectId,
    projectNumber,
    zone,
    instanceName: nonEmpty(env, 'SCION_METADATA_INSTANCE_NAME') ?? nonEmpty(env, 'SCION_AGENT_NAME') ?? `scion-${agent.slice(0, 8).toLowerCase()}`,
    instanceId,
    instanceAttributes,
    projectAttributes: jsonStringMap(env, 'SCION_METADATA_PROJECT_ATTRIBUTES'),
    proxy: oneOf(env, 'SCION_METADATA_PROXY', ['on', 'off'] as const, 'off') === 'on',
    upstream: nonEmpty(env, 'SCION_METADATA_UPSTREAM') ?? '169.254.169.254:80',
    hide: (nonEmpty(env, 'SCION_METADATA_HIDE') ?? '').split(',').map((x) => x.trim().replace(/^\/+/, '')).filter((x) => x !== ''),
    intercept: oneOf(env, 'SCION_METADATA_INTERCEPT', ['auto', 'off'] as const, 'auto'),
    childEnv: oneOf(env, 'SCION_METADATA_CHILD_ENV', ['on', 'off'] as const, 'on') === 'on',
  };
}

export function loadInitConfig(env: Env, opts: { gracePeriod?: string; stderrIsTty: boolean }): InitConfig {
  let gracePeriodMs = duration(env, 'SCION_GRACE_PERIOD', DEFAULTS.gracePeriodMs);
  if (opts.gracePeriod !== undefined) {
    try {
      gracePeriodMs = parseDuration(opts.gracePeriod, '--grace-period');
    } catch (err) {
      if (err instanceof DurationError) throw new ConfigError(err.message);
      throw err;
    }
  }

  const hooksRaw = nonEmpty(env, 'SCION_HOOKS_DIR');
  const hooksDirs = hooksRaw === undefined ? [...DEFAULTS.hooksDirs] : hooksRaw.split(':').filter((d) => d !== '');
  for (const d of hooksDirs) {
    if (!d.startsWith('/')) {
      throw new ConfigError(`invalid SCION_HOOKS_DIR entry ${JSON.stringify(d)}: hook directories must be absolute paths`);
    }
  }

  const agentUser = nonEmpty(env, 'SCION_AGENT_USER') ?? DEFAULTS.agentUser;
  if (!/^[a-z_][a-z0-9_.-]*\$?$/i.test(agentUser)) {
    throw new ConfigError(`invalid SCION_AGENT_USER ${JSON.stringify(agentUser)}: must be a user name such as scion`);
  }

  const trigger = nonEmpty(env, 'SCION_LIMITS_TRIGGER_FILE');
  if (trigger !== undefined && !trigger.startsWith('/')) {
    throw new ConfigError(`invalid SCION_LIMITS_TRIGGER_FILE ${JSON.stringify(trigger)}: must be an absolute path`);
  }

  const maxDuration = nonEmpty(env, 'SCION_MAX_DURATION');
  const maxDurationMs = maxDuration === undefined ? undefined : duration(env, 'SCION_MAX_DURATION', 0);

  const logLevel = nonEmpty(env, 'SCION_DEBUG') !== undefined && nonEmpty(env, 'SCION_LOG_LEVEL') === undefined
    ? 'debug'
    : oneOf(env, 'SCION_LOG_LEVEL', LOG_LEVELS, 'info');
  const logFormat = oneOf<LogFormat>(env, 'SCION_LOG_FORMAT', ['json', 'pretty'], opts.stderrIsTty ? 'pretty' : 'json');

  const secretValues = Object.entries(env)
    .filter(([k, v]) => isSecretName(k) && v !== undefined && v.length >= 8)
    .map(([, v]) => v as string);

  return {
    gracePeriodMs,
    hookTimeoutMs: duration(env, 'SCION_HOOK_TIMEOUT', DEFAULTS.hookTimeoutMs),
    stopHookTimeoutMs: duration(env, 'SCION_STOP_HOOK_TIMEOUT', DEFAULTS.stopHookTimeoutMs),
    hooksDirs,
    agentUser,
    hostUid: id(env, 'SCION_HOST_UID'),
    hostGid: id(env, 'SCION_HOST_GID'),
    maxDurationMs: maxDurationMs === 0 ? undefined : maxDurationMs,
    limitsTriggerFile: trigger,
    extraPath: nonEmpty(env, 'SCION_EXTRA_PATH'),
    logLevel,
    logFormat,
    secretValues,
    bootstrap: { authToken: nonEmpty(env, 'SCION_AUTH_TOKEN'), transportToken: nonEmpty(env, 'SCION_TRANSPORT_TOKEN') },
    ...loadHubConfig(env),
    metadata: loadMetadataConfig(env),
  };
}
