/** Starts the built hub-stub bundle as a user would, and talks to it over HTTP. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { NODE_BIN_DIR, ROOT, parseLogs, type LogLine } from './init-harness.js';

export const HUB_BUNDLE = join(ROOT, 'dist', 'hub-stub.mjs');

export interface RunningHub {
  url: string;
  adminToken: string;
  iamUrl: string | undefined;
  proc: ChildProcess;
  stdout: () => string;
  logs: () => LogLine[];
  stop: () => Promise<number | null>;
}

export async function startHub(args: string[] = [], env: Record<string, string> = {}): Promise<RunningHub> {
  const proc = spawn('timeout', ['-s', 'KILL', '120', HUB_BUNDLE, '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  const first = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub-stub did not start: ${err}`)), 15_000);
    const check = (): void => {
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(t);
        resolve(out.slice(0, nl));
      }
    };
    proc.stdout?.on('data', check);
    void closed.then((code) => reject(new Error(`hub-stub exited ${String(code)}: ${err}`)));
  });
  const ready = JSON.parse(first) as { url: string; adminToken: string };
  const iamLine = parseLogs(err).find((l) => l.msg === 'IAM Credentials emulator listening');
  return {
    url: ready.url,
    adminToken: ready.adminToken,
    iamUrl: iamLine?.iamEmulator as string | undefined,
    proc,
    stdout: () => out,
    logs: () => parseLogs(err),
    stop: async () => {
      proc.kill('SIGTERM');
      return closed;
    },
  };
}

export interface ApiResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ApiOptions {
  admin?: string;
  agent?: string;
  bearer?: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

export async function api<T = Record<string, unknown>>(hub: { url: string }, method: string, path: string, o: ApiOptions = {}): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.admin) headers.authorization = `Bearer ${o.admin}`;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.agent) headers['x-scion-agent-token'] = o.agent;
  let body: string | undefined = o.raw;
  if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${hub.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: unknown = {};
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { raw: text };
    }
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface CreatedAgent {
  id: string;
  token: string;
  expiresAt: string;
  env: Record<string, string>;
}

export async function createAgent(hub: RunningHub, spec: Record<string, unknown> = {}): Promise<CreatedAgent> {
  const r = await api<CreatedAgent>(hub, 'POST', '/api/v1/agents', { admin: hub.adminToken, body: { metadataMode: 'block', ...spec } });
  if (r.status !== 201) throw new Error(`create agent: ${r.status} ${r.text}`);
  return r.body;
}

export const SA = 'agent-sa@my-project-123.iam.gserviceaccount.com';
