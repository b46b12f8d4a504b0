// `npm start`: the whole system on one machine, no Docker. Starts hub-stub (fake IAM),
// creates an agent with a GCP identity, and runs sciontool init around the example Node
// agent (google-auth-library, no configuration) with exactly the environment a broker
// would inject. As root it runs in a private network namespace with real iptables
// interception and init as PID 1 dropping to an agent user; otherwise it uses the
// GCE_METADATA_* variables. Then it prints what happened, never a token value.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubAdmin, launchHubStub } from './lib/hub-stub-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const PATH = `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`;
const SA = 'demo-agent@scion-demo-project.iam.gserviceaccount.com';
const step = (msg) => process.stdout.write(`==> ${msg}\n`);
const isRoot = process.getuid?.() === 0;
const inside = process.argv[2] === '--inside';

function hasNetns() {
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    execFileSync('iptables', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!inside) {
  if (!existsSync(join(dist, 'sciontool.mjs')) || !existsSync(join(dist, 'node-agent.mjs'))) {
    step('building dist/ (bundles and the reaper addon)');
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  }
  if (isRoot && hasNetns()) {
    const ns = `sciontool-demo-${process.pid}`;
    step(`root: creating a private network namespace ${ns} (real iptables interception, init as PID 1)`);
    execFileSync('ip', ['netns', 'add', ns]);
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--inside'], { stdio: 'inherit', env: { ...process.env, PATH } });
    const cleanup = () => {
      try {
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    };
    process.on('SIGINT', () => child.kill('SIGINT'));
    const code = await new Promise((r) => child.on('close', (c) => r(c ?? 1)));
    cleanup();
    process.exit(code);
  }
  step(isRoot ? 'root, but no ip netns or iptables here: environment-variable mode' : 'not root: environment-variable mode (GCE_METADATA_* variables, no interception)');
}

const intercept = inside;
if (intercept) {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
}

step('starting hub-stub (fake IAM: an IAM Credentials emulator on loopback)');
const ready = await launchHubStub({ args: ['--log-level', 'warn'], timeoutS: 120 });
const hub = ready.proc;
const admin = (method, path, body) => hubAdmin(ready, method, path, body);
step(`hub-stub is up at ${ready.url}`);

step(`creating an agent: metadataMode assign, service account ${SA}`);
const agent = await admin('POST', '/api/v1/agents', { name: 'demo', metadataMode: 'assign', serviceAccountEmail: SA, projectId: 'scion-demo-project' });
step(`agent ${agent.id}: the broker environment has ${Object.keys(agent.env).length} variables (the token goes to the token file, not the agent)`);

const work = mkdtempSync(join(tmpdir(), 'sciontool-demo-'));
chmodSync(work, 0o755);
const env = { ...process.env, ...agent.env, PATH, SCION_HEARTBEAT_INTERVAL: '1s', SCION_LOG_FORMAT: 'json', SCION_GRACE_PERIOD: '3s', DEMO_WORK_MS: '3000' };
let argv;
if (intercept) {
  // Clients must find the metadata server through interception alone.
  for (const k of ['GCE_METADATA_HOST', 'GCE_METADATA_ROOT', 'GCE_METADATA_IP']) delete env[k];
  env.SCION_METADATA_CHILD_ENV = 'off';
  // An agent user, in a private copy of /etc mounted over /etc for init only.
  execFileSync('cp', ['-a', '/etc', join(work, 'etc')]);
  const home = join(work, 'home', 'scion');
  mkdirSync(home, { recursive: true });
  chmodSync(join(work, 'home'), 0o755);
  chownSync(home, 4321, 4321);
  appendFileSync(join(work, 'etc', 'passwd'), `scion:x:4321:4321:Scion Agent:${home}:/bin/sh\n`);
  appendFileSync(join(work, 'etc', 'group'), 'scion:x:4321:\n');
  argv = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `mount --bind '${join(work, 'etc')}' /etc && exec "$0" "$@"`, join(dist, 'sciontool.mjs'), 'init', '--', process.execPath, join(dist, 'node-agent.mjs')];
} else {
  // A free port on this machine's loopback, and a private HOME for the token file.
  const port = await new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
  Object.assign(env, { HOME: work, SCION_METADATA_PORT: String(port), SCION_METADATA_INTERCEPT: 'off' });
  for (const k of ['GCE_METADATA_HOST', 'GCE_METADATA_ROOT', 'GCE_METADATA_IP']) env[k] = `127.0.0.1:${port}`;
  argv = [join(dist, 'sciontool.mjs'), 'init', '--', process.execPath, join(dist, 'node-agent.mjs')];
}

step(`running sciontool init ${intercept ? 'as PID 1 ' : ''}around the example Node agent (google-auth-library, no configuration)`);
const started = Date.now();
const init = spawn('timeout', ['-s', 'KILL', '90', ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
init.stdout.on('data', (d) => {
  stdout += d;
  for (const line of String(d).split('\n')) if (line.startsWith('node-agent:')) process.stdout.write(`    ${line}\n`);
});
init.stderr.on('data', (d) => (stderr += d));
const code = await new Promise((r) => init.on('close', (c) => r(c)));
const logs = stderr
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  });
const line = stdout.split('\n').find((l) => l.startsWith('AGENT_RESULT '));
const result = line ? JSON.parse(line.slice('AGENT_RESULT '.length)) : { ok: false, error: 'the agent printed no result' };
const view = await admin('GET', `/api/v1/agents/${agent.id}`);
const audit = await admin('GET', `/api/v1/admin/audit?agent=${agent.id}`);
hub.kill('SIGTERM');

step('summary');
const secrets = [agent.token, result.token, result.idTokenValue].filter((t) => typeof t === 'string');
const rows = [
  ['mode', intercept ? 'iptables interception in a private network namespace' : 'GCE_METADATA_* variables'],
  ['agent ran as', `uid ${result.uid}${result.user ? ` (${result.user})` : ''}`],
  ['GCP identity', result.ok ? `${result.email} (${result.credentialType})` : `none: ${result.error}`],
  ['project', result.projectId ?? '-'],
  ['access token lifetime', result.accessToken ? `${result.accessToken.expiresInS} s` : '-'],
  ['ID token', result.idToken ? `aud ${result.idToken.aud}, iss ${result.idToken.iss}, lifetime ${result.idToken.lifetimeS} s` : '-'],
  ['tokens minted by IAM', `${audit.events.filter((e) => e.success && e.event.startsWith('gcp_')).length} (hub audit log)`],
  ['Hub saw', `phase ${view.phase}, exit code ${view.exitCode}, ${view.counts.heartbeats} heartbeats, ${view.counts.statusUpdates} status reports`],
  ['init exit code', String(code)],
  ['orphans reaped by init', String(logs.find((l) => l.msg === 'init exiting')?.orphansReaped ?? '-')],
  ['warnings in init log', String(logs.filter((l) => l.level === 'warn' || l.level === 'error').length)],
  ['token values in init log', secrets.some((t) => stderr.includes(t)) ? 'LEAKED' : 'none'],
  ['wall time', `${Date.now() - started} ms`],
];
for (const [k, v] of rows) process.stdout.write(`    ${k.padEnd(26)} ${v}\n`);
rmSync(work, { recursive: true, force: true });
process.exit(code === 0 && result.ok ? 0 : 1);
