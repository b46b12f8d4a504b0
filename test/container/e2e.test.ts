/**
 * The agent image under a real container engine, launched the way a broker does:
 * the environment hub-stub returned for the agent, the token written into the agent's
 * token file, NET_ADMIN for init. Run through scripts/e2e.mjs, which puts this test,
 * hub-stub and every container into one network-less pod namespace (loopback only).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CreatedAgent, type RunningHub, SA, api, createAgent, startHub } from '../helpers/hub-stub.js';

const POD = process.env.E2E_POD as string;
const IMAGE = process.env.E2E_IMAGE as string;
const TOKEN_FILE = '/home/scion/.scion/scion-token';

let hub: RunningHub;
beforeAll(async () => {
  if (!POD || !IMAGE) throw new Error('run these through scripts/e2e.mjs (npm run test:e2e)');
  hub = await startHub();
});
afterAll(async () => {
  await hub?.stop();
});

// All containers share the pod's network namespace: a container killed before init
// could clean up would leave its rules to the next test. (A real container's own
// namespace goes away with it.)
beforeEach(() => {
  for (const [bin, table] of [['iptables', 'nat'], ['iptables', 'filter'], ['ip6tables', 'nat'], ['ip6tables', 'filter']] as const) {
    const rules = execFileSync(bin, ['-w', '-t', table, '-S', 'OUTPUT'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes('sciontool-metadata'));
    for (const r of rules) spawnSync(bin, ['-w', '-t', table, ...r.replace(/^-A /, '-D ').split(' ')]);
  }
});

function agentContainer(a: CreatedAgent, env: Record<string, string>, command: string[], extra?: (c: GenericContainer) => GenericContainer): GenericContainer {
  let c = new GenericContainer(IMAGE)
    .withPullPolicy({ shouldPull: () => false })
    .withNetworkMode(`container:${POD}`)
    .withAddedCapabilities('NET_ADMIN')
    .withEnvironment(env)
    // As a broker does: the token goes into the agent's token file before start.
    .withCopyContentToContainer([{ content: a.token, target: TOKEN_FILE, mode: 0o600 }])
    .withCommand(command)
    .withWaitStrategy(Wait.forLogMessage(/"msg":"child started"/));
  if (extra) c = extra(c);
  return c;
}

function dockerExec(id: string, user: string, cmd: string[], input?: string): { code: number; out: string; err: string } {
  const r = spawnSync('docker', ['exec', '-i', '--user', user, id, ...cmd], { input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function exitCode(id: string): number {
  return Number(execFileSync('docker', ['inspect', '-f', '{{.State.ExitCode}}', id], { encoding: 'utf8' }).trim());
}

async function waitExit(id: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (execFileSync('docker', ['inspect', '-f', '{{.State.Running}}', id], { encoding: 'utf8' }).trim() === 'false') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`container ${id} still running after ${ms} ms`);
}

async function logsOf(c: StartedTestContainer): Promise<string> {
  const r = spawnSync('docker', ['logs', c.getId()], { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  return `${r.stdout}${r.stderr}`;
}

const view = async (a: CreatedAgent) =>
  (await api<{ phase: string; exitCode?: number; history: { phase: string }[]; counts: { heartbeats: number } }>(hub, 'GET', `/api/v1/agents/${a.id}`, { admin: hub.adminToken })).body;

describe('the agent image under a container engine', () => {
  it('assign, interception only: the Node agent gets the SA through ADC, as scion, and cannot touch iptables or see the bootstrap token', async () => {
    const a = await createAgent(hub, { metadataMode: 'assign', serviceAccountEmail: SA, projectId: 'my-project-123' });
    // The broker's environment minus the GCE_METADATA_* fallback, so only iptables leads to the emulator.
    const env = Object.fromEntries(Object.entries(a.env).filter(([k]) => !k.startsWith('GCE_METADATA_')));
    const c = await agentContainer(a, { ...env, SCION_METADATA_CHILD_ENV: 'off', DEMO_WORK_MS: '4000' }, ['node', '/opt/sciontool/examples/node-agent.mjs']).start();
    try {
      const rules = dockerExec(c.getId(), 'root', ['iptables', '-w', '-t', 'nat', '-S', 'OUTPUT']).out;
      expect(rules).toContain('--comment sciontool-metadata -j REDIRECT --to-ports 18380');
      const asAgent = dockerExec(c.getId(), 'scion', ['iptables', '-w', '-t', 'nat', '-F', 'OUTPUT']);
      expect(asAgent.code).not.toBe(0);
      // The agent process (uid scion, not init, which is PID 1) has no bootstrap token...
      // Read as scion: without CAP_SYS_PTRACE even the container's root cannot read another uid's environ.
      const childEnv = dockerExec(c.getId(), 'scion', ['sh', '-c', 'tr "\\0" "\\n" < /proc/$(pgrep -u scion -f "^node /opt/sciontool/examples/node-agent.mjs" | head -1)/environ']).out;
      expect(childEnv).toMatch(/^USER=scion$/m);
      expect(childEnv).not.toMatch(/^SCION_AUTH_TOKEN=/m);
      // ...and cannot read init's.
      expect(dockerExec(c.getId(), 'scion', ['cat', '/proc/1/environ']).code).not.toBe(0);
      await waitExit(c.getId(), 30_000);
      expect(exitCode(c.getId())).toBe(0);
      const logs = await logsOf(c);
      const line = logs.split('\n').find((l) => l.startsWith('AGENT_RESULT '));
      const result = JSON.parse((line ?? 'AGENT_RESULT {}').slice('AGENT_RESULT '.length)) as { ok: boolean; uid: number; email: string; token: string; idToken: { email: string; aud: string } };
      expect(result).toMatchObject({ ok: true, uid: 1000, email: SA, idToken: { email: SA } });
      const info = (await (await fetch(`${hub.iamUrl}/tokeninfo?access_token=${encodeURIComponent(result.token)}`)).json()) as { email?: string };
      expect(info.email).toBe(SA); // minted by hub-stub's IAM for this SA
      expect(logs).not.toContain(a.token);
    } finally {
      await c.stop({ timeout: 10_000 });
    }
  });

  it('block: the agent fails cleanly, curl to 169.254.169.254 gets no identity', async () => {
    const a = await createAgent(hub, { metadataMode: 'block' });
    const c = await agentContainer(a, { ...a.env, DEMO_SLEEP: '60' }, ['/opt/sciontool/examples/shell-agent.sh']).start();
    try {
      const r = dockerExec(c.getId(), 'scion', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Metadata-Flavor: Google', 'http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token']);
      expect(r.out).toBe('404');
      const agentRun = dockerExec(c.getId(), 'scion', ['sh', '-c', 'DEMO_WORK_MS=0 DEMO_EXPECT_NO_IDENTITY=1 node /opt/sciontool/examples/node-agent.mjs']);
      expect(agentRun.code).toBe(0);
      expect(agentRun.out).toMatch(/node-agent: no GCP identity/);
      const logs = await logsOf(c);
      expect(logs).toContain('shell-agent: no identity (HTTP 404)');
    } finally {
      await c.stop({ timeout: 10_000 });
    }
  });

  it('passthrough: no rules are installed', async () => {
    const a = await createAgent(hub, { metadataMode: 'passthrough' });
    const c = await agentContainer(a, { ...a.env }, ['sleep', '60']).start();
    try {
      const rules = dockerExec(c.getId(), 'root', ['sh', '-c', 'iptables -w -t nat -S; iptables -w -S']).out;
      expect(rules).not.toContain('sciontool-metadata');
    } finally {
      await c.stop({ timeout: 10_000 });
    }
  });

  it('docker stop: TERM reaches the whole group, hooks run, the Hub sees stopping then stopped, all inside 10 s', async () => {
    const a = await createAgent(hub, { metadataMode: 'block' });
    // The agent (scion) and the hook (root) write to files of their own.
    const script = "trap 'echo group-term >> /tmp/agent.log; exit 0' TERM; sh -c \"trap 'echo grandchild-term >> /tmp/agent.log; exit 0' TERM; while :; do sleep 0.1; done\" & wait";
    const c = await agentContainer(a, { ...a.env, SCION_HEARTBEAT_INTERVAL: '1s' }, ['sh', '-c', script], (g) =>
      g.withCopyContentToContainer([{ content: '#!/bin/sh\necho pre-stop-hook >> /tmp/hook.log\n', target: '/etc/scion/hooks/pre-stop', mode: 0o755 }]),
    ).start();
    const id = c.getId();
    await new Promise((r) => setTimeout(r, 1500));
    expect((await view(a)).phase).toBe('running');
    const t = Date.now();
    const stopped = await c.stop({ remove: false, timeout: 10_000 });
    const took = Date.now() - t;
    expect(took).toBeLessThan(10_000);
    // docker cp to stdout writes a tar stream; the few bytes of text are in it as they are.
    const log = ['/tmp/hook.log', '/tmp/agent.log'].map((f) => spawnSync('docker', ['cp', `${id}:${f}`, '-'], { encoding: 'latin1' }).stdout).join('\n');
    expect(log).toContain('pre-stop-hook');
    expect(log).toContain('group-term');
    expect(log).toContain('grandchild-term');
    const v = await view(a);
    expect(v).toMatchObject({ phase: 'stopped', exitCode: 0 });
    expect(v.history.map((h) => h.phase)).toEqual(['running', 'stopping', 'stopped']);
    expect(exitCode(id)).toBe(0);
    void stopped;
    spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  });

  it('a child ignoring TERM is killed after the grace period, before Docker\'s 10 s', async () => {
    const a = await createAgent(hub, { metadataMode: 'block' });
    const c = await agentContainer(a, { ...a.env }, ['sh', '-c', "trap '' TERM; sleep 300"]).start();
    const id = c.getId();
    const t = Date.now();
    await c.stop({ remove: false, timeout: 10_000 });
    const took = Date.now() - t;
    expect(took).toBeGreaterThan(6_500); // the default 7 s grace
    expect(took).toBeLessThan(10_000); // not Docker's SIGKILL
    expect(exitCode(id)).toBe(137);
    expect((await view(a)).exitCode).toBe(137);
    spawnSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  });

  it('reset-auth after a key rotation: the token written as scion, kill -USR2 1 fails with EPERM, heartbeats again within 1 s', async () => {
    const a = await createAgent(hub, { metadataMode: 'block' });
    const c = await agentContainer(a, { ...a.env, SCION_HEARTBEAT_INTERVAL: '200ms' }, ['sleep', '300']).start();
    try {
      await new Promise((r) => setTimeout(r, 800));
      await api(hub, 'POST', '/api/v1/admin/signing-keys/rotate', { admin: hub.adminToken, body: { retireOld: true } });
      await new Promise((r) => setTimeout(r, 600));
      const before = (await view(a)).counts.heartbeats;
      await new Promise((r) => setTimeout(r, 400));
      expect((await view(a)).counts.heartbeats).toBe(before);
      const reset = await api<{ token: string }>(hub, 'POST', `/api/v1/agents/${a.id}/reset-auth`, { admin: hub.adminToken });
      const w = dockerExec(c.getId(), 'scion', ['sh', '-c', `cat > ${TOKEN_FILE}.tmp && mv ${TOKEN_FILE}.tmp ${TOKEN_FILE}`], reset.body.token);
      expect(w.code).toBe(0);
      const written = Date.now();
      const k = dockerExec(c.getId(), 'scion', ['sh', '-c', 'kill -USR2 1']);
      expect(k.code).not.toBe(0);
      expect(k.err).toMatch(/not permitted/i);
      let recovered = 0;
      for (let i = 0; i < 200 && !recovered; i++) {
        if ((await view(a)).counts.heartbeats > before) recovered = Date.now();
        else await new Promise((r) => setTimeout(r, 10));
      }
      expect(recovered).toBeGreaterThan(0);
      expect(recovered - written).toBeLessThan(1000);
    } finally {
      await c.stop({ timeout: 10_000 });
    }
  });
});
