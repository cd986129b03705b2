/** What the client reads from a bearer token: its claims, decoded without verification (the API verifies). */

import { jwtDecode } from 'jwt-decode';

/** The claims of a JWT, decoded without verification; null if it is not a JWT with an object payload. */
export function decodeTokenClaims(token: string): Record<string, unknown> | null {
  let claims: unknown;
  try {
    claims = jwtDecode<unknown>(token);
  } catch {
    return null;
  }
  return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
    ? (claims as Record<string, unknown>)
    : null;
}

/** True when the token carries an `exp` in the past (a token without `exp` is left to the API). */
export function isTokenExpired(token: string, now: Date = new Date()): boolean {
  const exp = decodeTokenClaims(token)?.exp;
  return typeof exp === 'number' && exp * 1000 <= now.getTime();
}
