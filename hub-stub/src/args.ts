/** hub-stub's command line and environment -> options; every bad value is one line. */
import { toSeconds } from './duration.js';

export class ArgError extends Error {}

export const USAGE = `usage: hub-stub [--listen HOST:PORT] [--state-dir DIR] [--iam fake|google|none|URL]
                [--public-url URL] [--offline-after DUR] [--token-ttl DUR]
                [--transport-sa EMAIL] [--gcp-rate N] [--gcp-burst N] [--log-level LEVEL]`;

export interface StubArgs {
  host: string;
  port: number;
  stateDir: string | undefined;
  iam: { kind: 'fake' } | { kind: 'google' } | { kind: 'none' } | { kind: 'endpoint'; url: URL };
  publicUrl: string | undefined;
  offlineAfterMs: number;
  tokenTtlSec: number;
  transportServiceAccount: string;
  gcpRate: number;
  gcpBurst: number;
  logLevel: string;
  help: boolean;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function duration(flag: string, v: string, minS: number): number {
  const s = toSeconds(v);
  if (s === undefined || s < minS) throw new ArgError(`invalid ${flag} ${JSON.stringify(v)}: use seconds or a duration like 2m, 10h (at least ${minS}s)`);
  return s;
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ArgError(`invalid ${flag} ${JSON.stringify(v)}: must be a positive number`);
  return n;
}

export function parseStubArgs(argv: string[]): StubArgs {
  const out: StubArgs = {
    host: '127.0.0.1',
    port: 9810,
    stateDir: undefined,
    iam: { kind: 'fake' },
    publicUrl: undefined,
    offlineAfterMs: 120_000,
    tokenTtlSec: 10 * 3600,
    transportServiceAccount: 'scion-transport@scion-demo-project.iam.gserviceaccount.com',
    gcpRate: 1,
    gcpBurst: 10,
    logLevel: 'info',
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i] as string;
    let value: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    if (flag === '--help' || flag === '-h') {
      out.help = true;
      continue;
    }
    const take = (): string => {
      if (value !== undefined) return value;
      const v = argv[++i];
      if (v === undefined) throw new ArgError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--listen': {
        const v = take();
        const m = /^(?:\[([0-9a-f:]+)\]|([^:]+)):(\d{1,5})$/i.exec(v);
        const port = m ? Number(m[3]) : Number.NaN;
        if (!m || port > 65535) throw new ArgError(`invalid --listen ${JSON.stringify(v)}: use HOST:PORT, e.g. 127.0.0.1:9810 (port 0 picks a free port)`);
        out.host = (m[1] ?? m[2]) as string;
        out.port = port;
        break;
      }
      case '--state-dir':
        out.stateDir = take();
        if (out.stateDir === '') throw new ArgError('--state-dir needs a directory');
        break;
      case '--iam': {
        const v = take();
        if (v === 'fake' || v === 'google' || v === 'none') out.iam = { kind: v };
        else {
          let url: URL;
          try {
            url = new URL(v);
          } catch {
            throw new ArgError(`invalid --iam ${JSON.stringify(v)}: use fake, google, none, or an http(s) URL of an IAM Credentials endpoint`);
          }
          if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ArgError(`invalid --iam ${JSON.stringify(v)}: the URL must be http or https`);
          out.iam = { kind: 'endpoint', url };
        }
        break;
      }
      case '--public-url': {
        const v = take();
        try {
          const u = new URL(v);
          if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
        } catch {
          throw new ArgError(`invalid --public-url ${JSON.stringify(v)}: must be an http(s) URL`);
        }
        out.publicUrl = v.replace(/\/+$/, '');
        break;
      }
      case '--offline-after':
        out.offlineAfterMs = duration(flag, take(), 0.05) * 1000;
        break;
      case '--token-ttl':
        out.tokenTtlSec = Math.floor(duration(flag, take(), 60));
        break;
      case '--transport-sa': {
        const v = take();
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) throw new ArgError(`invalid --transport-sa ${JSON.stringify(v)}: must be a service account email`);
        out.transportServiceAccount = v;
        break;
      }
      case '--gcp-rate':
        out.gcpRate = positive(flag, take());
        break;
      case '--gcp-burst':
        out.gcpBurst = positive(flag, take());
        break;
      case '--log-level': {
        const v = take().toLowerCase();
        if (!LEVELS.includes(v)) throw new ArgError(`invalid --log-level ${JSON.stringify(v)}: allowed: ${LEVELS.join(', ')}`);
        out.logLevel = v;
        break;
      }
      default:
        throw new ArgError(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  return out;
}
