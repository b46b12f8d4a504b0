// Reload latency: from the moment a new agent token lands in the token file to the
// Hub's first authenticated call from the agent, over ROTATIONS rotations, for each
// reload path on its own (SCION_TOKEN_RELOAD=watch | signal | 401). Before each
// rotation the agent's tokens are revoked, so only the new token can authenticate.
// hub-stub (debug log) timestamps the calls; both processes share this machine's clock.
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubAdmin, launchHubStub } from '../scripts/lib/hub-stub-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const HEARTBEAT = process.env.BENCH_HEARTBEAT ?? '100ms';
const PATH_ENV = `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startHub() {
  const oks = []; // times of authenticated status calls
  let buf = '';
  const hub = await launchHubStub({
    args: ['--log-level', 'debug'],
    timeoutS: 600,
    onStderr: (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.includes('"msg":"request"')) continue;
        const l = JSON.parse(line);
        if (l.status === 200 && l.path.endsWith('/status')) oks.push(Date.parse(l.time));
      }
    },
  });
  return { ...hub, oks };
}

const call = hubAdmin;

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const results = [];
for (const path of ['watch', 'signal', '401']) {
  const hub = await startHub();
  const agent = await call(hub, 'POST', '/api/v1/agents', { metadataMode: 'block' });
  const home = mkdtempSync(join(tmpdir(), 'sciontool-bench-'));
  const init = spawn('timeout', ['-s', 'KILL', '600', join(root, 'dist', 'sciontool.mjs'), 'init', '--', 'sleep', '600'], {
    env: { ...process.env, ...agent.env, PATH: PATH_ENV, HOME: home, SCION_HEARTBEAT_INTERVAL: HEARTBEAT, SCION_TOKEN_RELOAD: path, SCION_TOKEN_POLL_INTERVAL: '1h', SCION_LOG_LEVEL: 'error', SCION_HOOKS_DIR: home, SCION_METADATA_MODE: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await sleep(1500);
  // The node process under timeout(1): SIGUSR2 must reach init itself.
  const { execFileSync } = await import('node:child_process');
  const initPid = Number(execFileSync('pgrep', ['-P', String(init.pid)]).toString().trim().split('\n')[0]);
  const file = join(home, '.scion', 'scion-token');
  const lat = [];
  let misses = 0;
  for (let i = 0; i < ROTATIONS; i++) {
    await call(hub, 'POST', `/api/v1/agents/${agent.id}/revoke`);
    const { token } = await call(hub, 'POST', `/api/v1/agents/${agent.id}/reset-auth`);
    await sleep(30); // let calls in flight with the old token finish
    const tmp = `${file}.bench`;
    writeFileSync(tmp, token, { mode: 0o600 });
    const written = Date.now();
    renameSync(tmp, file);
    if (path === 'signal') process.kill(initPid, 'SIGUSR2');
    const until = written + 3000;
    let seen;
    while (Date.now() < until && seen === undefined) {
      seen = hub.oks.find((t) => t >= written);
      if (seen === undefined) await sleep(2);
    }
    if (seen === undefined) misses++;
    else lat.push(seen - written);
  }
  init.kill('SIGTERM');
  hub.proc.kill('SIGTERM');
  lat.sort((a, b) => a - b);
  results.push({ path, rotations: ROTATIONS, misses, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] });
  await sleep(500);
}

console.log(`token reload latency (file written -> first authenticated Hub call), ${ROTATIONS} rotations per path, heartbeat ${HEARTBEAT}`);
console.log('| reload path | rotations | missed (>3 s) | p50 ms | p99 ms | max ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) console.log(`| ${r.path} | ${r.rotations} | ${r.misses} | ${r.p50} | ${r.p99} | ${r.max} |`);
writeFileSync(join(root, 'bench', 'reload-results.json'), `${JSON.stringify(results, null, 2)}\n`);
