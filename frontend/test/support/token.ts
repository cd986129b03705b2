import { createHmac } from 'node:crypto';

export interface TokenClaims {
  sub: string;
  client_id: string;
  /** Seconds since the epoch; default: an hour from now. */
  exp?: number;
  [claim: string]: unknown;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** An HS256 JWT signed with `secret`, as the local gateway verifies them. */
export function mintToken(secret: string, claims: TokenClaims): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(
    JSON.stringify({ iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 3600, ...claims }),
  );
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}
