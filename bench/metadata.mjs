// Metadata emulator throughput: cached `token` requests per second and latency at 50
// concurrent connections, against a bare node:http server (its own process, like the
// emulator) answering a fixed body of the same size, measured in the same run. Goal:
// at least 0.8 of the bare server. Also the latency of a cold token (a scope set not
// cached yet: a Hub round trip through hub-stub and its IAM emulator, plus overhead).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { hubAdmin, launchHubStub } from '../scripts/lib/hub-stub-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_MD_SECONDS ?? 5);
const CONC = Number(process.env.BENCH_MD_CONCURRENCY ?? 50);
const PATH = `${join(root, 'node_modules', '.bin')}:${process.env.PATH}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(args, env = {}) {
  return spawn('timeout', ['-s', 'KILL', '300', ...args], { env: { ...process.env, PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

const ready = await launchHubStub({ args: ['--log-level', 'warn', '--gcp-rate', '1000000', '--gcp-burst', '1000000'] });
const hub = ready.proc;
const agent = await hubAdmin(ready, 'POST', '/api/v1/agents', { metadataMode: 'assign', serviceAccountEmail: 'bench@my-project-123.iam.gserviceaccount.com' });
const home = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'sciontool-mdbench-'));
const MD_PORT = 18391;
const md = start([join(root, 'dist', 'sciontool.mjs'), 'metadata'], { ...agent.env, HOME: home, SCION_METADATA_PORT: String(MD_PORT), SCION_LOG_LEVEL: 'warn' });
const tokenPath = '/computeMetadata/v1/instance/service-accounts/default/token';
const dispatcher = new Agent({ connections: CONC, pipelining: 1, keepAliveTimeout: 30_000 });
const get = async (port, path) => {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers: { 'metadata-flavor': 'Google' }, dispatcher });
  const body = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${body}`);
  return body;
};
let sample;
for (let i = 0; i < 100; i++) {
  try {
    sample = await get(MD_PORT, tokenPath);
    break;
  } catch {
    await sleep(50);
  }
}
const BASE_PORT = 18392;
const bare = start([process.execPath, '-e', `const b=${JSON.stringify(sample)};require('node:http').createServer((q,s)=>{s.writeHead(200,{'content-type':'application/json','metadata-flavor':'Google','content-length':Buffer.byteLength(b)});s.end(b)}).listen(${BASE_PORT},'127.0.0.1')`]);
await sleep(500);

async function load(port, path) {
  for (let i = 0; i < 2000; i++) await get(port, path);
  const lat = [];
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await get(port, path);
        lat.push(performance.now() - t);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  return { requests: lat.length, rps: lat.length / secs, p50: pct(50), p99: pct(99) };
}

// Interleaved rounds (bare, emulator, ...); the best run of each counts, which takes out
// most of the noise of a 2-core machine shared by the client and both servers.
const ROUNDS = Number(process.env.BENCH_MD_ROUNDS ?? 3);
const runs = { bare: [], emulator: [] };
for (let i = 0; i < ROUNDS; i++) {
  runs.bare.push(await load(BASE_PORT, '/'));
  runs.emulator.push(await load(MD_PORT, tokenPath));
}
const best = (xs) => xs.reduce((a, b) => (b.rps > a.rps ? b : a));
const b = best(runs.bare);
const e = best(runs.emulator);

const cold = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  await get(MD_PORT, `${tokenPath}?scopes=https://www.googleapis.com/auth/bench.${i}`);
  cold.push(performance.now() - t);
}
cold.sort((x, y) => x - y);
md.kill('SIGTERM');
bare.kill('SIGTERM');
hub.kill('SIGTERM');
await dispatcher.close();

const f = (n) => n.toFixed(2);
console.log(`metadata emulator, ${CONC} concurrent connections, ${SECONDS} s per run (best of ${ROUNDS}, interleaved), Node ${process.version}`);
console.log('| server | requests | req/s | vs bare | p50 ms | p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|');
console.log(`| bare node:http, fixed body | ${b.requests} | ${b.rps.toFixed(0)} | 1.00x | ${f(b.p50)} | ${f(b.p99)} |`);
console.log(`| emulator, cached token | ${e.requests} | ${e.rps.toFixed(0)} | ${(e.rps / b.rps).toFixed(2)}x | ${f(e.p50)} | ${f(e.p99)} |`);
console.log(`goal: emulator >= 0.8 x bare -> ${e.rps / b.rps >= 0.8 ? 'PASS' : 'FAIL'}`);
console.log(`cold token (new scope set: Hub + IAM round trip), 20 requests: p50 ${f(cold[10])} ms, max ${f(cold[19])} ms`);
writeFileSync(join(root, 'bench', 'metadata-results.json'), `${JSON.stringify({ conc: CONC, seconds: SECONDS, runs, cold }, null, 2)}\n`);
