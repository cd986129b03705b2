import { describe, expect, it, vi } from 'vitest';
import { StatewayApiError } from '../../src/lib/errors';
import { InvalidIdError, MissingEnvironmentError } from '../../src/lib/errors';
import {
  ENVIRONMENT_STORAGE_KEY,
  type SessionEnvironment,
  addNavigationItem,
  clearEnvironment,
  decodeTokenClaims,
  endAllSessions,
  endSession,
  getNamespace,
  getSessionId,
  getSessionState,
  initSession,
  isAuthenticated,
  isTokenExpired,
  listSessions,
  loadEnvironment,
  logSessionState,
  saveEnvironment,
  updateSessionState,
} from '../../src/lib/session';
import { errorBody, fakeFetch } from '../support/fakeFetch';
import { MemoryStorage } from '../support/memoryStorage';

function unsignedToken(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}.signature`;
}

const TOKEN = unsignedToken({ sub: 'alice', client_id: 'acme', exp: Math.floor(Date.now() / 1000) + 3600 });
const ENV: SessionEnvironment = {
  token: TOKEN,
  clientId: 'acme',
  appId: 'web',
  projectId: 'p1',
  apiBaseUrl: 'http://api.test',
};
const SID = 'session:acme:alice:web:p1';

function stored(env: SessionEnvironment = ENV): MemoryStorage {
  const storage = new MemoryStorage();
  saveEnvironment(env, { storage });
  return storage;
}

const STATE = { env: { client_id: 'acme' }, classifier_config: {}, navigation: [] };

describe('the stored environment', () => {
  it('is saved to storage as JSON and read back', () => {
    const storage = stored();
    expect(JSON.parse(storage.getItem(ENVIRONMENT_STORAGE_KEY) ?? 'null')).toEqual(ENV);
    expect(loadEnvironment({ storage })).toEqual(ENV);
    clearEnvironment({ storage });
    expect(loadEnvironment({ storage })).toBeNull();
  });

  it('uses localStorage by default', () => {
    const storage = new MemoryStorage();
    vi.stubGlobal('localStorage', storage);
    try {
      saveEnvironment(ENV);
      expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).not.toBeNull();
      expect(loadEnvironment()).toEqual(ENV);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('refuses invalid ids and a missing token', () => {
    const storage = new MemoryStorage();
    expect(() => saveEnvironment({ ...ENV, appId: 'a:b' }, { storage })).toThrow(InvalidIdError);
    expect(() => saveEnvironment({ ...ENV, token: ' ' }, { storage })).toThrow(MissingEnvironmentError);
    expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).toBeNull();
  });

  it('reads a corrupt or tampered entry as no environment', () => {
    const storage = new MemoryStorage();
    storage.setItem(ENVIRONMENT_STORAGE_KEY, '{not json');
    expect(loadEnvironment({ storage })).toBeNull();
    storage.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify({ ...ENV, clientId: '../x' }));
    expect(loadEnvironment({ storage })).toBeNull();
  });

  it('builds the session id and namespace from the environment and the user id', () => {
    const storage = stored();
    expect(getSessionId(undefined, { storage })).toBe(SID);
    expect(getSessionId('bob', { storage })).toBe('session:acme:bob:web:p1');
    expect(getNamespace(undefined, { storage })).toBe('namespace:acme:alice');
    expect(getSessionId(undefined, { storage: stored({ ...ENV, userId: 'carol' }) })).toBe(
      'session:acme:carol:web:p1',
    );
    expect(() => getSessionId('no/slash', { storage })).toThrow(InvalidIdError);
    expect(() => getSessionId(undefined, { storage: new MemoryStorage() })).toThrow(MissingEnvironmentError);
  });

  it('decodes token claims without verifying them', () => {
    expect(decodeTokenClaims(TOKEN)).toMatchObject({ sub: 'alice', client_id: 'acme' });
    expect(decodeTokenClaims('not-a-jwt')).toBeNull();
    expect(isTokenExpired(TOKEN)).toBe(false);
    expect(isTokenExpired(unsignedToken({ sub: 'a', exp: 1 }))).toBe(true);
    expect(isTokenExpired(unsignedToken({ sub: 'a' }))).toBe(false);
  });
});

describe('isAuthenticated', () => {
  it('is true when the API accepts the token', async () => {
    const fetch = fakeFetch([{ body: { namespace: 'namespace:acme:alice', sessions: [] } }]);
    expect(await isAuthenticated({ storage: stored(), fetch })).toBe(true);
    expect(fetch.calls[0]?.url).toBe('http://api.test/api/session/list?client_id=acme');
    expect(fetch.calls[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it.each([401, 403])('is false when the API answers %i', async (status) => {
    const fetch = fakeFetch([{ status, body: errorBody(status === 401 ? 'unauthorized' : 'forbidden') }]);
    expect(await isAuthenticated({ storage: stored(), fetch })).toBe(false);
  });

  it('is false without an environment or with an expired token, without asking', async () => {
    const fetch = fakeFetch([{ body: {} }]);
    expect(await isAuthenticated({ storage: new MemoryStorage(), fetch })).toBe(false);
    const expired = { ...ENV, token: unsignedToken({ sub: 'alice', client_id: 'acme', exp: 1 }) };
    expect(await isAuthenticated({ storage: stored(expired), fetch })).toBe(false);
    expect(fetch.calls).toHaveLength(0);
  });

  it('throws when the API cannot tell', async () => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable') }]);
    await expect(isAuthenticated({ storage: stored(), fetch, retry: { attempts: 1 } })).rejects.toBeInstanceOf(
      StatewayApiError,
    );
  });
});

describe('session calls', () => {
  it('initSession posts the four ids and the extra env', async () => {
    const fetch = fakeFetch([
      { body: { session_id: SID, namespace: 'namespace:acme:alice', state: STATE, version: 1, created: true } },
    ]);
    const result = await initSession({ storage: stored({ ...ENV, env: { locale: 'en' } }), fetch });
    expect(result.created).toBe(true);
    expect(fetch.calls[0]).toMatchObject({
      url: 'http://api.test/api/session/init',
      method: 'POST',
      body: { client_id: 'acme', user_id: 'alice', app_id: 'web', project_id: 'p1', env: { locale: 'en' } },
    });
  });

  it('getSessionState reads by session id', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: STATE, version: 3, source: 'cache' } }]);
    const result = await getSessionState({ storage: stored(), fetch });
    expect(result.version).toBe(3);
    expect(fetch.calls[0]?.url).toBe(`http://api.test/api/session/state?session_id=${encodeURIComponent(SID)}`);
  });

  it('logSessionState prints the whole state', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: { ...STATE, theme: 'dark' }, version: 2, source: 'store' } }]);
    const lines: string[] = [];
    await logSessionState({ storage: stored(), fetch, logger: { debug: (line: string) => lines.push(line) } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(SID);
    expect(lines[0]).toContain('"theme": "dark"');
  });

  it('updateSessionState patches one key, conditionally when asked', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: { ...STATE, theme: 'dark' }, version: 4 } }]);
    const result = await updateSessionState('theme', 'dark', { storage: stored(), fetch, ifMatch: 3 });
    expect(result.version).toBe(4);
    expect(fetch.calls[0]).toMatchObject({
      url: 'http://api.test/api/session/update',
      method: 'PATCH',
      headers: { 'if-match': '"3"' },
      body: { session_id: SID, key: 'theme', value: 'dark' },
    });
  });

  it('updateSessionState surfaces a version mismatch', async () => {
    const fetch = fakeFetch([{ status: 412, body: errorBody('version_mismatch', 'Stale.', 'r-9') }]);
    await expect(updateSessionState('theme', 1, { storage: stored(), fetch, ifMatch: '"1"' })).rejects.toMatchObject({
      status: 412,
      code: 'version_mismatch',
      requestId: 'r-9',
    });
  });

  it('addNavigationItem appends one entry', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: { ...STATE, navigation: [{ path: '/a' }] }, version: 2 } }]);
    await addNavigationItem({ path: '/a' }, { storage: stored(), fetch });
    expect(fetch.calls[0]?.body).toEqual({ session_id: SID, navigation: { path: '/a' } });
    expect(fetch.calls[0]?.headers['if-match']).toBeUndefined();
  });

  it('listSessions asks for the environment client', async () => {
    const fetch = fakeFetch([{ body: { namespace: 'namespace:acme:alice', sessions: [] } }]);
    expect((await listSessions({ storage: stored(), fetch })).namespace).toBe('namespace:acme:alice');
    expect(fetch.calls[0]?.url).toBe('http://api.test/api/session/list?client_id=acme');
  });

  it('endSession deletes this session, or a given one', async () => {
    const fetch = fakeFetch([{ status: 204 }]);
    const storage = stored();
    await endSession(undefined, { storage, fetch });
    await endSession('session:acme:alice:web:p2', { storage, fetch });
    expect(fetch.calls.map((c) => [c.method, c.url])).toEqual([
      ['DELETE', `http://api.test/api/session/end?session_id=${encodeURIComponent(SID)}`],
      ['DELETE', `http://api.test/api/session/end?session_id=${encodeURIComponent('session:acme:alice:web:p2')}`],
    ]);
    await expect(endSession('session:acme:alice:web', { storage, fetch })).rejects.toBeInstanceOf(InvalidIdError);
  });

  it('endAllSessions deletes every session of the user in the client', async () => {
    const fetch = fakeFetch([{ status: 204 }]);
    await endAllSessions({ storage: stored(), fetch });
    expect(fetch.calls[0]?.url).toBe('http://api.test/api/session/end?client_id=acme&all=true');
  });

  it('needs an environment', async () => {
    const fetch = fakeFetch([{ body: {} }]);
    await expect(getSessionState({ storage: new MemoryStorage(), fetch })).rejects.toBeInstanceOf(
      MissingEnvironmentError,
    );
    expect(fetch.calls).toHaveLength(0);
  });

  it('takes an explicit environment instead of the stored one', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: STATE, version: 1, source: 'default' } }]);
    await getSessionState({ environment: ENV, storage: new MemoryStorage(), fetch });
    expect(fetch.calls).toHaveLength(1);
  });
});
