// Starts the built hub-stub on a free loopback port, as the benchmarks, `npm start` and
// the conformance scenario need it, and waits for its one ready line on stdout.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * @param {{ args?: string[], timeoutS?: number, onStderr?: (chunk: string) => void }} [opts]
 * @returns {Promise<{ proc: import('node:child_process').ChildProcess, url: string, adminToken: string }>}
 */
export async function launchHubStub(opts = {}) {
  const proc = spawn('timeout', ['-s', 'KILL', String(opts.timeoutS ?? 300), join(root, 'dist', 'hub-stub.mjs'), '--listen', '127.0.0.1:0', ...(opts.args ?? [])], {
    env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', opts.onStderr ? 'pipe' : 'inherit'],
  });
  if (opts.onStderr) proc.stderr.on('data', (d) => opts.onStderr(String(d)));
  const ready = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    proc.on('close', (c) => reject(new Error(`hub-stub exited ${c} before it was ready`)));
  });
  return { proc, ...ready };
}

/** An admin API call; the JSON answer, or {} for an empty one. */
export async function hubAdmin(hub, method, path, body) {
  const r = await fetch(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}
