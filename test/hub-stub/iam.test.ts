import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamEmulator } from '../../hub-stub/src/iam-emulator.js';
import { type Impersonator, createImpersonator } from '../../hub-stub/src/iam.js';

const SA = 'builder@my-project-123.iam.gserviceaccount.com';
let emulator: IamEmulator;
let iam: Impersonator;

beforeAll(async () => {
  emulator = new IamEmulator();
  iam = createImpersonator({ kind: 'endpoint', url: new URL(await emulator.start()), staticToken: undefined });
});
afterAll(async () => {
  await iam.close();
  await emulator.stop();
});

describe('@google-cloud/iam-credentials against the in-process emulator', () => {
  it('generateAccessToken: scopes and lifetime travel through the library', async () => {
    const r = await iam.generateAccessToken(SA, ['https://www.googleapis.com/auth/cloud-platform'], 1800);
    expect(r.accessToken).toMatch(/^ya29\.c\./);
    expect((r.expireTime.getTime() - Date.now()) / 1000).toBeGreaterThan(1790);
    expect((r.expireTime.getTime() - Date.now()) / 1000).toBeLessThanOrEqual(1800);
    const info = (await (await fetch(`${emulator.url}/oauth2/v3/tokeninfo?access_token=${r.accessToken}`)).json()) as Record<string, string>;
    expect(info).toMatchObject({ email: SA, scope: 'https://www.googleapis.com/auth/cloud-platform' });
  });

  it('generateIdToken: includeEmail, Google issuer, verifiable against the JWKS', async () => {
    const token = await iam.generateIdToken(SA, 'https://hub.example.com');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${emulator.url}/oauth2/v3/certs`)), {
      issuer: 'https://accounts.google.com',
      audience: 'https://hub.example.com',
    });
    expect(payload).toMatchObject({ email: SA, email_verified: true });
  });

  it('refuses what Google refuses, and the library reports it', async () => {
    await expect(iam.generateAccessToken(SA, ['https://www.googleapis.com/auth/cloud-platform'], 7200)).rejects.toThrow(/greater than the maximum allowed/);
    await expect(iam.generateAccessToken('nobody@gmail.com', ['x'], 60)).rejects.toThrow(/Gaia id not found for email nobody@gmail.com/);
    await expect(iam.generateIdToken(SA, '')).rejects.toThrow(/Audience required/);
  });

  it('the emulator wants a bearer credential, as Google does', async () => {
    const r = await fetch(`${emulator.url}/v1/projects/-/serviceAccounts/${encodeURIComponent(SA)}:generateIdToken`, { method: 'POST', body: '{"audience":"x"}' });
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
  });
});
