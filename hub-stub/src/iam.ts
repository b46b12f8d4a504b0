/**
 * Service-account impersonation through the IAM Credentials API, always with
 * Google's own client library (@google-cloud/iam-credentials, REST transport), so
 * the fake, a custom endpoint and the real service share one request path.
 */
import { IAMCredentialsClient } from '@google-cloud/iam-credentials';
import { googleAuthLibrary } from 'google-gax';

export interface AccessTokenResult {
  accessToken: string;
  expireTime: Date;
}

export interface Impersonator {
  readonly kind: string;
  generateAccessToken(serviceAccount: string, scopes: string[], lifetimeSec: number): Promise<AccessTokenResult>;
  generateIdToken(serviceAccount: string, audience: string): Promise<string>;
  close(): Promise<void>;
}

/** Error from IAM, with the gRPC-style status Google returned when there is one. */
export class ImpersonationError extends Error {}

export type IamTarget =
  | { kind: 'google' }
  | { kind: 'endpoint'; url: URL; staticToken: string | undefined };

export function createImpersonator(target: IamTarget): Impersonator {
  let client: IAMCredentialsClient;
  if (target.kind === 'google') {
    // The hub's own Application Default Credentials.
    client = new IAMCredentialsClient({ fallback: true });
  } else {
    const { url } = target;
    const auth = new googleAuthLibrary.OAuth2Client();
    // An emulator takes any bearer; the real service behind a custom URL needs a real one.
    auth.setCredentials({ access_token: target.staticToken ?? 'hub-stub', expiry_date: Date.now() + 10 * 365 * 86_400_000 });
    client = new IAMCredentialsClient({
      fallback: true,
      apiEndpoint: url.hostname,
      port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
      protocol: url.protocol === 'https:' ? 'https' : 'http',
      authClient: auth,
    });
  }
  const name = (sa: string) => `projects/-/serviceAccounts/${sa}`;
  const wrap = (what: string, err: unknown): ImpersonationError => {
    const e = err as { message?: string; code?: number; details?: string };
    return new ImpersonationError(`${what} failed: ${e.details ?? e.message ?? String(err)}`);
  };
  return {
    kind: target.kind === 'google' ? 'google' : target.url.origin,
    async generateAccessToken(sa, scopes, lifetimeSec) {
      try {
        const [r] = await client.generateAccessToken({ name: name(sa), scope: scopes, lifetime: { seconds: lifetimeSec } });
        const seconds = Number(r.expireTime?.seconds ?? 0);
        if (!r.accessToken || !seconds) throw new Error('response without accessToken or expireTime');
        return { accessToken: r.accessToken, expireTime: new Date(seconds * 1000) };
      } catch (err) {
        throw wrap('generateAccessToken', err);
      }
    },
    async generateIdToken(sa, audience) {
      try {
        const [r] = await client.generateIdToken({ name: name(sa), audience, includeEmail: true });
        if (!r.token) throw new Error('response without token');
        return r.token;
      } catch (err) {
        throw wrap('generateIdToken', err);
      }
    },
    async close() {
      await client.close();
    },
  };
}
