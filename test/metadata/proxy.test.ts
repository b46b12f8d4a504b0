import { type Server, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createProxyHandler } from '../../src/metadata/proxy.js';
import { Redactor } from '../../src/util/redact.js';

const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
let upstream: Server;
let proxy: Server;
const seen: { path: string; xff: string | undefined; flavor: string | undefined }[] = [];

function listen(s: Server): Promise<number> {
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let proxyPort = 0;
beforeAll(async () => {
  upstream = createServer((req, res) => {
    seen.push({ path: req.url ?? '', xff: req.headers['x-forwarded-for'] as string | undefined, flavor: req.headers['metadata-flavor'] as string | undefined });
    if (req.url === '/computeMetadata/v1/instance') {
      res.writeHead(301, { location: 'http://169.254.169.254/computeMetadata/v1/instance/', 'metadata-flavor': 'Google' });
      res.end();
      return;
    }
    res.writeHead(200, { 'metadata-flavor': 'Google', 'content-type': 'application/text' });
    res.end('real');
  });
  const up = await listen(upstream);
  proxy = createServer(await createProxyHandler(`127.0.0.1:${up}`, ['instance/attributes/kube-env'], log));
  proxyPort = await listen(proxy);
});
afterAll(() => {
  upstream.close();
  proxy.close();
});

describe('passthrough filtering proxy', () => {
  it('strips X-Forwarded-For, forwards Metadata-Flavor, hides configured paths, passes redirects through', async () => {
    const r = await get(proxyPort, '/computeMetadata/v1/project/project-id', { 'Metadata-Flavor': 'Google', 'X-Forwarded-For': '10.1.2.3' });
    expect([r.status, r.body]).toEqual([200, 'real']);
    expect(seen.at(-1)).toEqual({ path: '/computeMetadata/v1/project/project-id', xff: undefined, flavor: 'Google' });
    const hidden = await get(proxyPort, '/computeMetadata/v1/instance/attributes/kube-env', { 'Metadata-Flavor': 'Google' });
    expect(hidden.status).toBe(404);
    expect(seen.some((s) => s.path.includes('kube-env'))).toBe(false);
    const redirect = await get(proxyPort, '/computeMetadata/v1/instance', { 'Metadata-Flavor': 'Google' });
    expect([redirect.status, redirect.location]).toEqual([301, 'http://169.254.169.254/computeMetadata/v1/instance/']);
  });
});

describe('passthrough filtering proxy: review regressions', () => {
  it('a hidden path stays hidden through recursive listings of its ancestors and encoded names', async () => {
    for (const p of ['/computeMetadata/v1/instance/attributes/?recursive=true', '/computeMetadata/v1/instance/?recursive=true&alt=json', '/computeMetadata/v1/?recursive=true', '/computeMetadata/v1/instance/attributes/kube%2Denv', '/computeMetadata/v1//instance/attributes/kube-env']) {
      const r = await get(proxyPort, p, { 'Metadata-Flavor': 'Google' });
      expect(r.status, p).toBe(404);
    }
    expect(seen.some((s) => s.path.includes('recursive') || s.path.includes('kube'))).toBe(false);
    // Non-recursive listings of the ancestors still pass.
    expect((await get(proxyPort, '/computeMetadata/v1/instance/attributes/', { 'Metadata-Flavor': 'Google' })).status).toBe(200);
  });
});

describe('passthrough filtering proxy: long-polls', () => {
  it('closes the upstream request when the client gives up', async () => {
    let open = 0;
    const hanging = createServer((req) => {
      open++;
      req.socket.on('close', () => open--);
    });
    const up = await listen(hanging);
    const p = createServer(await createProxyHandler(`127.0.0.1:${up}`, [], log));
    const port = await listen(p);
    const req = request({ host: '127.0.0.1', port, path: '/computeMetadata/v1/instance/attributes/?wait_for_change=true', headers: { 'Metadata-Flavor': 'Google' } });
    req.on('error', () => {});
    req.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(open).toBe(1);
    req.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect(open).toBe(0);
    p.close();
    hanging.closeAllConnections();
    hanging.close();
  });
});
