/**
 * hub-stub: a compact Scion Hub. Prints exactly one JSON line on stdout when ready,
 * `{"url","adminToken"}`; logs go to stderr. SIGTERM/SIGINT stop it cleanly.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { AgentTokens } from './agent-tokens.js';
import { ArgError, USAGE, parseStubArgs } from './args.js';
import type { HubContext } from './context.js';
import { markOffline } from './admin-api.js';
import { IamEmulator } from './iam-emulator.js';
import { type Impersonator, createImpersonator } from './iam.js';
import { RateLimiter } from './rate-limit.js';
import { createHubServer } from './server.js';
import { HubState } from './state.js';

function fail(code: number, message: string): never {
  process.stderr.write(`hub-stub: ${message}\n`);
  process.exit(code);
}

/** HUB_STUB_ADMIN_TOKEN, else the one kept in the state dir, else a new one. */
function adminToken(stateDir: string | undefined): string {
  const fromEnv = process.env.HUB_STUB_ADMIN_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 16) fail(2, 'HUB_STUB_ADMIN_TOKEN must be at least 16 characters');
    return fromEnv;
  }
  const file = stateDir ? join(stateDir, 'admin-token') : undefined;
  if (file && existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = `hubstub_${randomBytes(24).toString('base64url')}`;
  if (file) writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseStubArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ArgError) fail(2, `${err.message}\n${USAGE}`);
    throw err;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = pino(
    { name: 'hub-stub', level: args.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ dest: 2, sync: true }),
  );

  if (args.stateDir) mkdirSync(args.stateDir, { recursive: true, mode: 0o700 });
  const state = new HubState(args.stateDir);
  try {
    state.load();
  } catch (err) {
    fail(1, (err as Error).message);
  }
  const tokens = new AgentTokens(state);
  await tokens.init();

  let emulator: IamEmulator | undefined;
  let iam: Impersonator | undefined;
  if (args.iam.kind === 'fake') {
    emulator = new IamEmulator();
    const url = await emulator.start();
    iam = createImpersonator({ kind: 'endpoint', url: new URL(url), staticToken: undefined });
    log.info({ iamEmulator: url }, 'IAM Credentials emulator listening');
  } else if (args.iam.kind === 'google') {
    iam = createImpersonator({ kind: 'google' });
  } else if (args.iam.kind === 'endpoint') {
    iam = createImpersonator({ kind: 'endpoint', url: args.iam.url, staticToken: process.env.HUB_STUB_IAM_TOKEN });
  }

  const ctx: HubContext = {
    state,
    tokens,
    iam,
    limiter: new RateLimiter(args.gcpRate, args.gcpBurst),
    log,
    opts: {
      adminToken: adminToken(args.stateDir),
      publicUrl: '',
      offlineAfterMs: args.offlineAfterMs,
      transportServiceAccount: args.transportServiceAccount,
      defaultTokenTtlSec: args.tokenTtlSec,
    },
  };
  const server = createHubServer(ctx);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${args.host}:${args.port}: ${err.code ?? err.message}`)));
    server.listen(args.port, args.host, resolve);
  }).catch((err: unknown) => fail(1, (err as Error).message));
  const { port } = server.address() as AddressInfo;
  const host = args.host.includes(':') ? `[${args.host}]` : args.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  ctx.opts.publicUrl = args.publicUrl ?? url;

  const sweeper = setInterval(() => {
    markOffline(ctx);
    ctx.limiter.prune();
  }, Math.min(60_000, Math.max(50, ctx.opts.offlineAfterMs / 4)));
  sweeper.unref();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    clearInterval(sweeper);
    server.close();
    server.closeAllConnections();
    state.flush();
    void Promise.allSettled([emulator?.stop(), iam?.close()]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  log.info({ url, publicUrl: ctx.opts.publicUrl, iam: iam?.kind ?? 'none', persistent: state.persistent, keys: state.keys.length, agents: state.agents.size }, 'hub-stub ready');
  process.stdout.write(`${JSON.stringify({ url, adminToken: ctx.opts.adminToken })}\n`);
}

main().catch((err: unknown) => fail(1, `failed: ${(err as Error).stack ?? String(err)}`));
