/** Regressions for defects a review found in the credentials and Hub client code. */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentToken } from '../../src/credentials/agent-token.js';
import { RefreshLoop } from '../../src/credentials/refresh-loop.js';
import { TokenFile } from '../../src/credentials/token-file.js';
import { HubClient } from '../../src/hub/client.js';
import { StatusReporter } from '../../src/hub/status.js';
import { FileTransport, NoTransport, type TransportSource } from '../../src/hub/transport.js';
import { createLogger } from '../../src/log.js';
import { Redactor } from '../../src/util/redact.js';
import { type FakeHub, fakeJwt, useFakeHubs } from '../helpers/fake-hub.js';
import { tempDir } from '../helpers/init-harness.js';

const log = await createLogger({ level: 'silent', format: 'json', redactor: new Redactor() });
const fake = useFakeHubs(afterEach);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(hub: FakeHub, agentToken: AgentToken, transport: TransportSource = new NoTransport(), timeoutMs = 2000) {
  return new HubClient({ endpoint: hub.url, agentToken, transport, timeoutMs, reloadOn401: true, log });
}

describe('review regressions', () => {
  it('reads refuse a token directory that is a symlink (root must not read through it)', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'elsewhere'));
    new TokenFile(join(dir, 'elsewhere', 'scion-token'), undefined).write(fakeJwt(60));
    symlinkSync(join(dir, 'elsewhere'), join(dir, '.scion'));
    expect(new TokenFile(join(dir, '.scion', 'scion-token'), undefined).read()).toMatchObject({ ok: false, reason: 'symlink' });
  });

  it('a transport token the Hub does not replace does not make the refresh loop spin', async () => {
    const hub = await fake(() => ({ status: 200, body: { token: fakeJwt(3600), expires_at: new Date().toISOString(), transportError: 'nope' } }));
    const agentToken = new AgentToken(new TokenFile(join(tempDir(), 'scion-token'), undefined), log);
    agentToken.bootstrap(fakeJwt(3600));
    const tf = new TokenFile(join(tempDir(), 'transport-token'), undefined);
    tf.write(fakeJwt(2)); // due at once, and the Hub will not send a new one
    const transport = new FileTransport(tf, 'iap', log);
    const c = client(hub, agentToken, transport);
    const loop = new RefreshLoop({ client: c, agentId: 'a', agentToken, transport, transportToken: () => (tf.read() as { token: string }).token, backoff: { baseMs: 100, capMs: 200 }, log, onAuthLost: () => {}, onAuthRestored: () => {} });
    loop.start();
    await sleep(2000);
    loop.stop();
    expect(hub.requests.length).toBeGreaterThanOrEqual(1);
    expect(hub.requests.length).toBeLessThanOrEqual(3);
    await c.close();
  });

  it('a transport file that cannot be written does not stop the refresh loop', async () => {
    let n = 0;
    const hub = await fake(() => ({ status: 200, body: { token: 'x', expires_at: '', tokens: [{ layer: 'app', type: 'scion_access', value: fakeJwt(2, { n: ++n }), expiresIn: 2 }, { layer: 'transport', type: 'google_oidc', value: fakeJwt(3600), expiresIn: 3600 }] } }));
    const agentToken = new AgentToken(new TokenFile(join(tempDir(), 'scion-token'), undefined), log);
    agentToken.bootstrap(fakeJwt(2));
    const dir = tempDir();
    const tf = new TokenFile(join(dir, 'transport-token'), undefined);
    tf.write(fakeJwt(3600));
    const transport = new FileTransport(tf, 'iap', log);
    const { rmSync } = await import('node:fs');
    rmSync(tf.path);
    mkdirSync(tf.path); // the agent made it a directory: writes fail
    const c = client(hub, agentToken, transport);
    const loop = new RefreshLoop({ client: c, agentId: 'a', agentToken, transport, transportToken: () => undefined, backoff: { baseMs: 100, capMs: 200 }, log, onAuthLost: () => {}, onAuthRestored: () => {} });
    loop.start();
    await sleep(4500);
    loop.stop();
    // 2 s tokens refresh at their 80% point: at least three rounds in 4.5 s.
    expect(hub.requests.length).toBeGreaterThanOrEqual(3);
    await c.close();
  });

  it('a 401 for a token that was replaced while the call was out is retried with the new one', async () => {
    const dir = tempDir();
    const agentToken = new AgentToken(new TokenFile(join(dir, 'scion-token'), undefined), log);
    agentToken.bootstrap(fakeJwt(3600));
    const fresh = fakeJwt(3600);
    const hub = await fake((r) => {
      if (r.headers['x-scion-agent-token'] === fresh) return { status: 200 };
      // Another reload path adopts the new token while this call is in flight.
      agentToken.file.write(fresh);
      agentToken.reload('watch');
      return { status: 401 };
    });
    const c = client(hub, agentToken);
    await c.call('POST', '/x', {}, { retries: 0, backoff: { baseMs: 10, capMs: 10 } });
    expect(hub.requests).toHaveLength(2);
    await c.close();
  });

  it('a shutdown report to a Hub that never answers ends at its deadline, not the request timeout', async () => {
    const hub = await fake(() => 'hang');
    const agentToken = new AgentToken(new TokenFile(join(tempDir(), 'scion-token'), undefined), log);
    agentToken.bootstrap(fakeJwt(3600));
    const c = client(hub, agentToken, new NoTransport(), 10_000);
    const reporter = new StatusReporter({ client: c, agentId: 'a', heartbeatMs: 30_000, backoff: { baseMs: 100, capMs: 200 }, reportTimeoutMs: 5000, log });
    const t = Date.now();
    const first = reporter.report({ phase: 'stopping' }, 1000);
    const second = reporter.report({ phase: 'stopped', exitCode: 0 }, 1000);
    expect(await first).toBe(false);
    expect(await second).toBe(false);
    // Both deadlines run from when they were queued: about 1 s in all, not 2 x 10 s.
    expect(Date.now() - t).toBeLessThan(1800);
    await c.close();
  });
});
