// One conformance scenario, run inside a private network namespace (the test creates
// it with `ip netns add` and runs this with `ip netns exec`): hub-stub, an agent of
// MODE, sciontool init as PID 1 around clients.mjs, with interception only
// (VARIANT=iptables: no GCE_METADATA_* variables) or variables only (VARIANT=env).
// Prints one line: SCENARIO <json>.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { hubAdmin, launchHubStub } from '../../scripts/lib/hub-stub-process.mjs';

const [mode, variant] = process.argv.slice(2);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'node_modules', '.bin');
const SA = 'agent-sa@my-project-123.iam.gserviceaccount.com';
const AUD = 'https://conformance.example.com';
const PATH = `${bin}:${process.env.PATH}`;
const result = { mode, variant };

execFileSync('ip', ['link', 'set', 'lo', 'up']);
execFileSync('ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);

// hub-stub, inside this namespace.
let hubErr = '';
const ready = await launchHubStub({ onStderr: (d) => (hubErr += d) });
const hub = ready.proc;
const iam = JSON.parse(hubErr.split('\n').find((l) => l.includes('IAM Credentials emulator listening'))).iamEmulator;
const admin = (method, path, body) => hubAdmin(ready, method, path, body);
const agent = await admin('POST', '/api/v1/agents', mode === 'assign' ? { metadataMode: 'assign', serviceAccountEmail: SA, projectId: 'my-project-123' } : { metadataMode: mode, projectId: 'my-project-123' });

// passthrough: "the real server" answers at 169.254.169.254:80 in this namespace.
let fakeReal;
if (mode === 'passthrough') {
  const REAL = 'ya29.real-metadata-server-token';
  fakeReal = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const send = (status, body, type = 'application/text', extra = {}) => {
      res.writeHead(status, { 'metadata-flavor': 'Google', 'content-type': type, ...extra });
      res.end(body);
    };
    const sa = 'real-vm@real-project-9.iam.gserviceaccount.com';
    // The account answers under its alias and its email alike.
    const p = u.pathname.replace('/computeMetadata/v1/', '').replace(`service-accounts/${sa}/`, 'service-accounts/default/');
    if (u.pathname === '/') return send(200, 'computeMetadata/\n');
    if (req.headers['metadata-flavor'] !== 'Google') return send(403, 'forbidden', 'text/html');
    const info = JSON.stringify({ aliases: ['default'], email: sa, scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
    const table = {
      instance: [301, '', 'text/html', { location: `http://${req.headers.host}/computeMetadata/v1/instance/` }],
      'instance/': [200, 'service-accounts/\nzone\n'],
      'project/project-id': [200, 'real-project-9'],
      'project/numeric-project-id': [200, '999000111222'],
      'universe/universe-domain': [200, 'googleapis.com'],
      'instance/service-accounts/': u.searchParams.get('recursive') ? [200, JSON.stringify({ default: JSON.parse(info), [sa]: JSON.parse(info) }), 'application/json'] : [200, `default/\n${sa}/\n`],
      'instance/service-accounts/default/': [200, info, 'application/json'],
      'instance/service-accounts/default/email': [200, sa],
      'instance/service-accounts/default/token': [200, JSON.stringify({ access_token: REAL, expires_in: 3000, token_type: 'Bearer' }), 'application/json'],
      'instance/service-accounts/default/identity': [200, `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: u.searchParams.get('audience'), iss: 'https://accounts.google.com', exp: Math.floor(Date.now() / 1000) + 3600, email: sa })).toString('base64url')}.c2ln`],
    };
    const hit = table[p];
    if (!hit) return send(404, 'not found', 'text/html');
    send(...hit);
  });
  await new Promise((r) => fakeReal.listen(80, '169.254.169.254', r));
}

// An agent user with a home, in a private copy of /etc mounted over /etc for init only.
const dir = mkdtempSync(join(tmpdir(), 'sciontool-conf-'));
chmodSync(dir, 0o755);
execFileSync('cp', ['-a', '/etc', join(dir, 'etc')]);
const home = join(dir, 'home', 'scion');
mkdirSync(home, { recursive: true });
chmodSync(join(dir, 'home'), 0o755);
chownSync(home, 4321, 4321);
appendFileSync(join(dir, 'etc', 'passwd'), `scion:x:4321:4321::${home}:/bin/sh\n`);
appendFileSync(join(dir, 'etc', 'group'), 'scion:x:4321:\n');
// On a real VM, GCE's DNS resolves the name; this namespace has no DNS, so hosts does it.
if (mode === 'passthrough') appendFileSync(join(dir, 'etc', 'hosts'), '169.254.169.254 metadata.google.internal metadata\n');

const env = { ...process.env, ...agent.env, PATH, CONFORMANCE_GCLOUD_SDK: process.env.CONFORMANCE_GCLOUD_SDK ?? '', SCION_LOG_FORMAT: 'json', SCION_LOG_LEVEL: 'debug' };
if (variant === 'iptables') {
  for (const k of ['GCE_METADATA_HOST', 'GCE_METADATA_ROOT', 'GCE_METADATA_IP']) delete env[k];
  env.SCION_METADATA_CHILD_ENV = 'off';
} else {
  env.SCION_METADATA_INTERCEPT = 'off';
}
const tokensInEnv = [agent.token, agent.env.SCION_AUTH_TOKEN].filter(Boolean);
const init = spawn('timeout', ['-s', 'KILL', '240', 'unshare', '--pid', '--fork', '--mount-proc', '--kill-child', 'sh', '-c', `mount --bind '${join(dir, 'etc')}' /etc && exec '${join(root, 'dist', 'sciontool.mjs')}' init --grace-period 2s -- node '${join(root, 'test', 'conformance', 'clients.mjs')}'`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let stdout = '';
let stderr = '';
init.stdout.on('data', (d) => (stdout += d));
init.stderr.on('data', (d) => (stderr += d));
let rulesDuring = '';
const watcher = setInterval(() => {
  try {
    const r = execFileSync('iptables', ['-w', '-t', 'nat', '-S', 'OUTPUT']).toString();
    if (r.includes('sciontool-metadata')) rulesDuring = r;
  } catch {}
}, 100);
result.exitCode = await new Promise((r) => init.on('close', (c) => r(c)));
clearInterval(watcher);
result.rulesDuring = rulesDuring.split('\n').filter((l) => l.includes('sciontool-metadata'));
result.rulesAfter = execFileSync('iptables', ['-w', '-t', 'nat', '-S', 'OUTPUT']).toString().split('\n').filter((l) => l.includes('sciontool-metadata'));
const line = stdout.split('\n').find((l) => l.startsWith('CONFORMANCE '));
result.clients = line ? JSON.parse(line.slice('CONFORMANCE '.length)) : null;
result.childStdoutTail = line ? undefined : stdout.slice(-2000);
result.initLogTail = stderr.split('\n').filter((l) => /"level":"(warn|error|fatal)"/.test(l)).slice(-12);

// Which of the tokens did the IAM emulator mint, and for whom?
const jwks = createRemoteJWKSet(new URL(`${iam}/oauth2/v3/certs`));
result.verified = {};
const clients = result.clients ?? {};
const accessTokens = {
  node: clients['node.accessToken']?.value,
  python: clients.python?.value?.['python.default']?.value?.token,
  gcloud: clients['gcloud.printAccessToken']?.value?.code === 0 ? clients['gcloud.printAccessToken'].value.stdout : undefined,
};
for (const [who, tok] of Object.entries(accessTokens)) {
  if (typeof tok !== 'string') continue;
  const r = await fetch(`${iam}/tokeninfo?access_token=${encodeURIComponent(tok)}`);
  result.verified[`${who}.access`] = r.ok ? (await r.json()).email : `not minted by IAM (${r.status})`;
}
const idTokens = { node: clients['node.idToken']?.value, python: clients.python?.value?.['python.idToken']?.value };
for (const [who, tok] of Object.entries(idTokens)) {
  if (typeof tok !== 'string') continue;
  try {
    const { payload } = await jwtVerify(tok, jwks, { issuer: 'https://accounts.google.com', audience: AUD });
    result.verified[`${who}.id`] = payload.email;
  } catch (err) {
    result.verified[`${who}.id`] = `not verified: ${err.message}`;
  }
}
// No credential of any kind in init's log (debug level): the Hub token, the GCP tokens.
const seenTokens = [...tokensInEnv, ...Object.values(accessTokens), ...Object.values(idTokens)].filter((t) => typeof t === 'string' && t.length > 20);
result.tokensChecked = seenTokens.length;
result.tokenInLogs = seenTokens.some((t) => stderr.includes(t));
const view = await admin('GET', `/api/v1/agents/${agent.id}`);
result.hubCounts = view.counts;
hub.kill('SIGTERM');
fakeReal?.close();
process.stdout.write(`SCENARIO ${JSON.stringify(result)}\n`);
process.exit(0);
