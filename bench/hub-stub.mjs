// hub-stub throughput on loopback: token refresh and gcp-token requests per second
// with p50/p99 latency, against GET /healthz (the HTTP floor) measured in the same run.
// Bounded: each scenario runs BENCH_HUB_SECONDS (default 5) with BENCH_HUB_CONCURRENCY
// (default 16) requests in flight; the hub runs under `timeout -s KILL`.
import { launchHubStub } from '../scripts/lib/hub-stub-process.mjs';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_HUB_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_HUB_CONCURRENCY ?? 16);

const ready = await launchHubStub({ args: ['--log-level', 'warn', '--gcp-rate', '1000000', '--gcp-burst', '1000000'], timeoutS: SECONDS * 5 + 60 });
const hub = ready.proc;
const dispatcher = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 30_000 });

async function call(method, path, headers = {}, body) {
  const r = await request(`${ready.url}${path}`, { method, headers, body, dispatcher });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text}`);
  return text ? JSON.parse(text) : {};
}

const agent = await call('POST', '/api/v1/agents', { authorization: `Bearer ${ready.adminToken}`, 'content-type': 'application/json' }, JSON.stringify({ metadataMode: 'assign', serviceAccountEmail: 'bench@my-project-123.iam.gserviceaccount.com' }));
const auth = { 'x-scion-agent-token': agent.token, 'content-type': 'application/json' };

const scenarios = [
  ['GET /healthz (floor)', () => call('GET', '/healthz')],
  ['POST status (heartbeat)', () => call('POST', `/api/v1/agents/${agent.id}/status`, auth, '{"heartbeat":true}')],
  ['POST token/refresh', () => call('POST', `/api/v1/agents/${agent.id}/token/refresh`, auth, '')],
  ['POST gcp-token (fake IAM)', () => call('POST', '/api/v1/agent/gcp-token', auth, '{}')],
  ['POST gcp-identity-token (fake IAM)', () => call('POST', '/api/v1/agent/gcp-identity-token', auth, '{"audience":"https://x"}')],
];

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const results = [];
for (const [name, fn] of scenarios) {
  for (let i = 0; i < 50; i++) await fn(); // warm-up
  const lat = [];
  const until = performance.now() + SECONDS * 1000;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      try {
        await fn();
        lat.push(performance.now() - t);
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  results.push({ name, requests: lat.length, errors, rps: lat.length / secs, p50: pct(lat, 50), p99: pct(lat, 99) });
}
hub.kill('SIGTERM');
await dispatcher.close();

const floor = results[0].rps;
console.log(`hub-stub on loopback, ${CONCURRENCY} in flight, ${SECONDS} s per scenario, Node ${process.version}`);
console.log('| scenario | requests | errors | req/s | vs floor | p50 ms | p99 ms |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.name} | ${r.requests} | ${r.errors} | ${r.rps.toFixed(0)} | ${(r.rps / floor).toFixed(2)}x | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
}
writeFileSync(join(root, 'bench', 'hub-stub-results.json'), `${JSON.stringify({ seconds: SECONDS, concurrency: CONCURRENCY, results }, null, 2)}\n`);
