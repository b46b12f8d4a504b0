/**
 * Google's own clients against the emulator, in a private network namespace with real
 * iptables and a real hub-stub: Node google-auth-library and gcp-metadata (latest),
 * Python google-auth as bundled with the installed gcloud SDK, and gcloud itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_BIN_DIR, ROOT, isRoot } from '../helpers/init-harness.js';

const SA = 'agent-sa@my-project-123.iam.gserviceaccount.com';
const SDK = process.env.CONFORMANCE_GCLOUD_SDK ?? '/usr/lib/google-cloud-sdk';
const hasSdk = existsSync(join(SDK, 'bin', 'gcloud')) && existsSync(join(SDK, 'platform', 'bundledpythonunix', 'bin', 'python3'));

interface Outcome<T = unknown> {
  ok: boolean;
  value?: T;
  error?: string;
}
interface GcloudRun {
  code: number;
  stdout: string;
  stderr: string;
}
interface Scenario {
  exitCode: number;
  rulesDuring: string[];
  rulesAfter: string[];
  clients: Record<string, Outcome> & {
    python: Outcome<Record<string, Outcome<{ token?: string; project?: string; email?: string }>>>;
    'gcloud.printAccessToken': Outcome<GcloudRun>;
    'gcloud.configList': Outcome<GcloudRun>;
  };
  verified: Record<string, string>;
  tokenInLogs: boolean;
  tokensChecked: number;
  hubCounts: { gcpTokens: number; gcpIdentityTokens: number };
  initLogTail: string[];
}

function scenario(mode: string, variant: string): Scenario {
  const ns = `sciontool-conf-${process.pid}-${mode}-${variant}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const r = spawnSync('timeout', ['-s', 'KILL', '280', 'ip', 'netns', 'exec', ns, join(NODE_BIN_DIR, 'node'), join(ROOT, 'test', 'conformance', 'scenario.mjs'), mode, variant], {
      env: { ...process.env, PATH: `${NODE_BIN_DIR}:${process.env.PATH}`, CONFORMANCE_GCLOUD_SDK: SDK },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('SCENARIO '));
    if (!line) throw new Error(`scenario ${mode}/${variant} printed no result (exit ${String(r.status)}): ${r.stderr.slice(-2000)}`);
    return JSON.parse(line.slice('SCENARIO '.length)) as Scenario;
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

const tokenOf = (s: Scenario) => ({
  node: s.clients['node.accessToken']?.value,
  python: s.clients.python.value?.['python.default']?.value?.token,
  gcloud: s.clients['gcloud.printAccessToken'].value?.stdout,
});

describe.runIf(isRoot && hasSdk)('conformance with real Google clients', () => {
  for (const variant of ['iptables', 'env']) {
    it(`assign, ${variant === 'iptables' ? 'interception only (no GCE_METADATA_* variables)' : 'variables only (no iptables)'}: every client gets the agent's SA, minted by IAM`, () => {
      const s = scenario('assign', variant);
      expect(s.exitCode).toBe(0);
      const c = s.clients;
      expect(c['node.isAvailable']).toEqual({ ok: true, value: true });
      expect(c['node.clientType']).toEqual({ ok: true, value: 'Compute' });
      expect(c['node.projectId']).toEqual({ ok: true, value: 'my-project-123' });
      expect(c.python.value?.['python.default']?.value).toMatchObject({ type: 'Credentials', project: 'my-project-123', email: SA });
      const gcloudConfig = JSON.parse(c['gcloud.configList'].value?.stdout ?? '{}') as { core?: { account?: string; project?: string } };
      expect(gcloudConfig.core).toMatchObject({ account: SA, project: 'my-project-123' });
      // Every token is one the IAM emulator minted for the SA (tokeninfo / JWKS).
      expect(s.verified).toEqual({ 'node.access': SA, 'python.access': SA, 'gcloud.access': SA, 'node.id': SA, 'python.id': SA });
      const t = tokenOf(s);
      expect(t.python).toBe(t.node);
      expect(s.tokenInLogs).toBe(false);
      expect(s.tokensChecked).toBeGreaterThanOrEqual(5);
      // The agent runs as the agent user and cannot touch the rules.
      expect(c['child.uid']).toEqual({ ok: true, value: 4321 });
      expect(c['child.iptables']?.ok).toBe(false);
      if (variant === 'iptables') {
        expect(s.rulesDuring.some((r) => r.includes('REDIRECT --to-ports 18380'))).toBe(true);
        expect(s.rulesAfter).toEqual([]);
      } else {
        expect(s.rulesDuring).toEqual([]);
      }
    }, 300_000);

    it(`block, ${variant}: a VM with no service account; every client fails its normal way`, () => {
      const s = scenario('block', variant);
      expect(s.exitCode).toBe(0);
      const c = s.clients;
      expect(c['node.isAvailable']).toEqual({ ok: true, value: true });
      expect(c['node.projectId']).toEqual({ ok: true, value: 'my-project-123' });
      expect(c['node.accessToken']?.ok).toBe(false);
      expect(c['node.idToken']?.ok).toBe(false);
      expect(c.python.value?.['python.default']?.ok).toBe(false);
      expect(c.python.value?.['python.idToken']?.ok).toBe(false);
      const g = c['gcloud.printAccessToken'].value as GcloudRun;
      expect(g.code).not.toBe(0);
      expect(g.stderr).toMatch(/credentialed accounts|active account/i);
      expect(g.stderr).not.toMatch(/concealed|Traceback/);
      expect(s.hubCounts.gcpTokens + s.hubCounts.gcpIdentityTokens).toBe(0);
      if (variant === 'iptables') expect(s.rulesDuring.length).toBeGreaterThan(0);
    }, 300_000);
  }

  it('passthrough: no interception; clients reach whatever answers at 169.254.169.254', () => {
    const s = scenario('passthrough', 'iptables');
    expect(s.exitCode).toBe(0);
    expect(s.rulesDuring).toEqual([]);
    const t = tokenOf(s);
    expect(t).toEqual({ node: 'ya29.real-metadata-server-token', python: 'ya29.real-metadata-server-token', gcloud: 'ya29.real-metadata-server-token' });
    expect(s.hubCounts.gcpTokens).toBe(0);
  }, 300_000);
});
