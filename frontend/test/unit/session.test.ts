import { describe, expect, it, vi } from 'vitest';
import { StatewayApiError } from '../../src/lib/errors';
import { InvalidIdError, MissingEnvironmentError } from '../../src/lib/errors';
import {
  ENVIRONMENT_STORAGE_KEY,
  type SessionEnvironment,
  addNavigationItem,
  clearEnvironment,
  clientFor,
  decodeTokenClaims,
  endAllSessions,
  endSession,
  getClient,
  getNamespace,
  getSessionId,
  getSessionState,
  initSession,
  isAuthenticated,
  isTokenExpired,
  listSessions,
  loadEnvironment,
  loadStoredEnvironment,
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

/** The same storage as a new page load sees it: same items, nothing in memory. */
function reloaded(storage: MemoryStorage): MemoryStorage {
  const fresh = new MemoryStorage();
  const raw = storage.getItem(ENVIRONMENT_STORAGE_KEY);
  if (raw !== null) fresh.setItem(ENVIRONMENT_STORAGE_KEY, raw);
  return fresh;
}

/** A storage that counts its reads. */
class CountingStorage extends MemoryStorage {
  reads = 0;

  override getItem(key: string): string | null {
    this.reads += 1;
    return super.getItem(key);
  }
}

const { token: _token, ...IDS } = ENV;

describe('the environment', () => {
  it('keeps the token in memory and writes only the ids and base URL to storage', () => {
    const storage = stored();
    expect(JSON.parse(storage.getItem(ENVIRONMENT_STORAGE_KEY) ?? 'null')).toEqual(IDS);
    expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).not.toContain(TOKEN);
    expect(loadEnvironment({ storage })).toEqual(ENV);

    // After a reload the ids are there to fill a form in again, but there is no token.
    const later = reloaded(storage);
    expect(loadEnvironment({ storage: later })).toBeNull();
    expect(loadStoredEnvironment({ storage: later })).toEqual(IDS);
    clearEnvironment({ storage });
    expect(loadEnvironment({ storage })).toBeNull();
    expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).toBeNull();
  });

  it('writes the token to storage only when asked to remember it, and takes it out again', () => {
    const storage = new MemoryStorage();
    saveEnvironment(ENV, { storage, rememberToken: true });
    expect(JSON.parse(storage.getItem(ENVIRONMENT_STORAGE_KEY) ?? 'null')).toEqual({ ...ENV, rememberToken: true });
    expect(loadEnvironment({ storage: reloaded(storage) })).toEqual(ENV);
    expect(loadStoredEnvironment({ storage: reloaded(storage) })?.rememberToken).toBe(true);

    saveEnvironment(ENV, { storage });
    expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).not.toContain(TOKEN);
    expect(loadEnvironment({ storage })).toEqual(ENV);
    expect(loadEnvironment({ storage: reloaded(storage) })).toBeNull();
  });

  it('takes a token out of storage that was written without being asked to remember it', () => {
    const storage = new MemoryStorage();
    storage.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify(ENV));
    expect(loadEnvironment({ storage })).toBeNull();
    expect(loadStoredEnvironment({ storage })).toEqual(IDS);
    expect(storage.getItem(ENVIRONMENT_STORAGE_KEY)).not.toContain(TOKEN);
  });

  it('uses localStorage by default', () => {
    const storage = new MemoryStorage();
    vi.stubGlobal('localStorage', storage);
    try {
      saveEnvironment(ENV);
      expect(JSON.parse(storage.getItem(ENVIRONMENT_STORAGE_KEY) ?? 'null')).toEqual(IDS);
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
    expect(loadEnvironment({ storage })).toBeNull();
  });

  it('reads a corrupt or tampered entry as no environment', () => {
    const corrupt = new MemoryStorage();
    corrupt.setItem(ENVIRONMENT_STORAGE_KEY, '{not json');
    expect(loadEnvironment({ storage: corrupt })).toBeNull();
    expect(loadStoredEnvironment({ storage: corrupt })).toBeNull();
    const tampered = new MemoryStorage();
    tampered.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify({ ...ENV, clientId: '../x', rememberToken: true }));
    expect(loadEnvironment({ storage: tampered })).toBeNull();
    const remembered = new MemoryStorage();
    remembered.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify({ ...ENV, rememberToken: true }));
    expect(loadEnvironment({ storage: remembered })).toEqual(ENV);
  });

  it('reads storage once, and builds one client for all calls', async () => {
    const storage = new CountingStorage();
    storage.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify({ ...ENV, rememberToken: true }));
    const fetch = fakeFetch((call) =>
      call.method === 'GET'
        ? { body: { session_id: SID, state: STATE, version: 1, source: 'store' } }
        : { body: { session_id: SID, state: STATE, version: 2 } },
    );
    const options = { storage, fetch };
    const client = getClient(options);
    await getSessionState(options);
    await updateSessionState('theme', 'dark', options);
    await addNavigationItem({ path: '/a' }, options);
    expect(getSessionId(undefined, options)).toBe(SID);
    expect(loadEnvironment(options)).toEqual(ENV);
    expect(storage.reads).toBe(1);
    expect(getClient(options)).toBe(client);
    expect(fetch.calls).toHaveLength(3);
  });

  it('keeps the client for a new token, and builds a new one for a new API base URL', async () => {
    const storage = stored();
    const fetch = fakeFetch([{ body: { namespace: 'namespace:acme:alice', sessions: [] } }]);
    const client = getClient({ storage, fetch });
    const refreshed = unsignedToken({ sub: 'alice', client_id: 'acme', n: 2 });
    saveEnvironment({ ...ENV, token: refreshed }, { storage });
    expect(getClient({ storage, fetch })).toBe(client);
    await listSessions({ storage, fetch });
    expect(fetch.calls[0]?.headers.authorization).toBe(`Bearer ${refreshed}`);

    saveEnvironment({ ...ENV, token: refreshed, apiBaseUrl: 'http://other.test' }, { storage });
    const moved = getClient({ storage, fetch });
    expect(moved).not.toBe(client);
    expect(moved.baseUrl).toBe('http://other.test');
    // A different fetch or retry policy is a different client too.
    expect(getClient({ storage, fetch, retry: { attempts: 1 } })).not.toBe(moved);
  });

  it('builds one client per explicit environment', () => {
    const fetch = fakeFetch([{ body: {} }]);
    expect(clientFor(ENV, { fetch })).toBe(clientFor(ENV, { fetch }));
    expect(getClient({ environment: ENV, fetch })).toBe(clientFor(ENV, { fetch }));
    expect(clientFor({ ...ENV }, { fetch })).not.toBe(clientFor(ENV, { fetch }));
    expect(() => getClient({ storage: new MemoryStorage() })).toThrow(MissingEnvironmentError);
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
    expect(decodeTokenClaims('a.!!!.c')).toBeNull();
    expect(decodeTokenClaims(`x.${Buffer.from('[1]').toString('base64url')}.y`)).toBeNull();
    expect(decodeTokenClaims(unsignedToken({ sub: 'zoë' }))?.sub).toBe('zoë');
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
