// Runs inside the agent container (as the agent user, under sciontool init): asks
// Google's real client libraries for an identity through Application Default
// Credentials, exactly as an agent would, and prints one JSON line of what each got.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const AUD = 'https://conformance.example.com';
const out = {};

async function attempt(name, fn) {
  try {
    out[name] = { ok: true, value: await fn() };
  } catch (err) {
    out[name] = { ok: false, error: String(err?.message ?? err).split('\n').slice(0, 3).join(' | ').slice(0, 400) };
  }
}

const { GoogleAuth } = await import('google-auth-library');
const gcpMetadata = await import('gcp-metadata');

await attempt('node.isAvailable', () => gcpMetadata.isAvailable());
const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
await attempt('node.clientType', async () => (await auth.getClient()).constructor.name);
await attempt('node.accessToken', async () => (await auth.getAccessToken()) ?? null);
await attempt('node.projectId', () => auth.getProjectId());
await attempt('node.idToken', async () => (await auth.getIdTokenClient(AUD)).idTokenProvider.fetchIdToken(AUD));

// The agent must not be able to undo the interception.
await attempt('child.iptables', async () => {
  const r = await run('iptables', ['-w', '-t', 'nat', '-F', 'OUTPUT']);
  return r.stdout;
});
await attempt('child.uid', async () => process.getuid());

const SDK = process.env.CONFORMANCE_GCLOUD_SDK;
const py = `
import json, sys
out = {}
def attempt(name, fn):
    try:
        out[name] = {"ok": True, "value": fn()}
    except Exception as e:
        out[name] = {"ok": False, "error": (type(e).__name__ + ": " + str(e))[:400]}
import google.auth, google.auth.transport.requests
from google.auth import compute_engine
req = google.auth.transport.requests.Request()
def adc():
    creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    creds.refresh(req)
    return {"type": type(creds).__name__, "project": project, "token": creds.token, "email": getattr(creds, "service_account_email", None)}
attempt("python.default", adc)
def idt():
    c = compute_engine.IDTokenCredentials(req, "${AUD}", use_metadata_identity_endpoint=True)
    c.refresh(req)
    return c.token
attempt("python.idToken", idt)
print(json.dumps(out))
`;
if (SDK) {
  await attempt('python', async () => {
    const r = await run(`${SDK}/platform/bundledpythonunix/bin/python3`, ['-c', py], { env: { ...process.env, PYTHONPATH: `${SDK}/lib/third_party` }, timeout: 60_000 });
    return JSON.parse(r.stdout.trim().split('\n').pop());
  });
  const gcloud = async (...args) => {
    try {
      const r = await run(`${SDK}/bin/gcloud`, args, { timeout: 90_000, env: { ...process.env, CLOUDSDK_CORE_DISABLE_PROMPTS: '1', CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true' } });
      return { code: 0, stdout: r.stdout.trim(), stderr: r.stderr.trim().slice(0, 400) };
    } catch (err) {
      return { code: err.code ?? 1, stdout: String(err.stdout ?? '').trim(), stderr: String(err.stderr ?? '').trim().slice(0, 400) };
    }
  };
  out['gcloud.printAccessToken'] = { ok: true, value: await gcloud('auth', 'print-access-token') };
  out['gcloud.configList'] = { ok: true, value: await gcloud('config', 'list', '--format=json') };
}
process.stdout.write(`CONFORMANCE ${JSON.stringify(out)}\n`);
