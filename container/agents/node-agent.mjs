// An example agent: asks Google's Node client library for its identity through
// Application Default Credentials, with no configuration at all, as any agent would.
// Prints what it got (lifetimes, never token values) and one JSON line for tools.
import { GoogleAuth } from 'google-auth-library';

const AUD = process.env.DEMO_AUDIENCE ?? 'https://example.com/my-service';
const result = { uid: process.getuid?.(), user: process.env.USER ?? null };
const say = (m) => process.stdout.write(`node-agent: ${m}\n`);

function jwtClaims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

try {
  const auth = new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] });
  const client = await auth.getClient();
  const { token } = await client.getAccessToken();
  const expiry = client.credentials?.expiry_date;
  result.credentialType = client.constructor.name;
  result.accessToken = { present: typeof token === 'string', prefix: token?.slice(0, 5), expiresInS: expiry ? Math.round((expiry - Date.now()) / 1000) : null };
  result.token = token; // for tests that compare with the Hub's; never printed in the human lines
  result.projectId = await auth.getProjectId();
  result.email = (await auth.getCredentials()).client_email ?? null;
  const idToken = await (await auth.getIdTokenClient(AUD)).idTokenProvider.fetchIdToken(AUD);
  const claims = jwtClaims(idToken);
  result.idToken = { aud: claims.aud, email: claims.email, iss: claims.iss, lifetimeS: claims.exp - claims.iat };
  result.idTokenValue = idToken;
  say(`running as uid ${result.uid}; GCP identity ${result.email} in project ${result.projectId} (${result.credentialType})`);
  say(`access token valid for ${result.accessToken.expiresInS} s; ID token for ${claims.aud} valid for ${result.idToken.lifetimeS} s`);
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err?.message ?? err).split('\n')[0];
  say(`no GCP identity: ${result.error}`);
}
const workMs = Number(process.env.DEMO_WORK_MS ?? 2500);
if (workMs > 0) {
  say(`working for ${workMs} ms`);
  await new Promise((r) => setTimeout(r, workMs));
}
process.stdout.write(`AGENT_RESULT ${JSON.stringify(result)}\n`);
process.exit(result.ok || process.env.DEMO_EXPECT_NO_IDENTITY === '1' ? 0 : 3);
