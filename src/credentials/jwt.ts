/** Unverified reads of a JWT's timing claims: the Hub verifies, we only schedule. */
import { decodeJwt } from 'jose';

export interface TokenTimes {
  /** Seconds since the epoch. */
  exp: number;
  iat: number | undefined;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

export function tokenTimes(token: string): TokenTimes | undefined {
  try {
    const claims = decodeJwt(token);
    if (typeof claims.exp !== 'number') return undefined;
    return { exp: claims.exp, iat: typeof claims.iat === 'number' ? claims.iat : undefined };
  } catch {
    return undefined;
  }
}
