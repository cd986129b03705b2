import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { StatewayApiError } from '../../src/lib/errors';
import { type SessionEnvironment, type SessionOptions, saveEnvironment } from '../../src/lib/session';
import { MemoryStorage } from '../support/memoryStorage';
import { mintToken } from '../support/token';

export const gatewayUrl = (): string => inject('gatewayUrl');

/** Ids no other test uses, so tests never see each other's state. */
export function fresh(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function token(user: string, client: string, extra: Record<string, unknown> = {}): string {
  return mintToken(inject('jwtSecret'), { sub: user, client_id: client, ...extra });
}

/** Options as an app has them after login: an environment saved to its (in-memory) localStorage. */
export function loggedIn(
  ids: { user?: string; client?: string; app?: string; project?: string } = {},
  extra: Partial<SessionEnvironment> = {},
): SessionOptions & { storage: MemoryStorage; environment?: never } {
  const user = ids.user ?? fresh('user');
  const client = ids.client ?? fresh('client');
  const environment: SessionEnvironment = {
    token: token(user, client),
    clientId: client,
    userId: user,
    appId: ids.app ?? 'web',
    projectId: ids.project ?? fresh('p'),
    apiBaseUrl: gatewayUrl(),
    ...extra,
  };
  const storage = new MemoryStorage();
  saveEnvironment(environment, { storage });
  return { storage, retry: { attempts: 1 } };
}

export async function apiError(promise: Promise<unknown>): Promise<StatewayApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StatewayApiError) return error;
    throw error;
  }
  throw new Error('expected the API to refuse');
}
