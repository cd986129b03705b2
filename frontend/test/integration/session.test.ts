import { describe, expect, it } from 'vitest';
import { StatewayClient } from '../../src/lib/api';
import {
  addNavigationItem,
  endAllSessions,
  endSession,
  getNamespace,
  getSessionId,
  getSessionState,
  initSession,
  isAuthenticated,
  listSessions,
  loadEnvironment,
  logSessionState,
  updateSessionState,
} from '../../src/lib/session';
import type { Health } from '../../src/lib/types';
import { apiError, fresh, gatewayUrl, loggedIn, token } from './helpers';

describe('against the local gateway: sessions', () => {
  it('answers health without a token', async () => {
    const client = new StatewayClient({ baseUrl: gatewayUrl() });
    const response = await client.get('/api/health');
    const health: Health = response.data;
    expect(health).toEqual({ cache: 'ok', store: 'ok', snapshots: 'ok' });
    expect(response.requestId).toBeTruthy();
  });

  it("reads the authorizer's 401, which has no error body, as unauthorized", async () => {
    const options = loggedIn();
    const environment = loadEnvironment(options);
    if (!environment) throw new Error('no environment');
    const expired = token(environment.userId ?? 'u', environment.clientId, { exp: Math.floor(Date.now() / 1000) - 60 });
    const error = await apiError(getSessionState({ environment: { ...environment, token: expired }, retry: { attempts: 1 } }));
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', message: 'Unauthorized', body: { message: 'Unauthorized' } });
    // No function ran: the id is API Gateway's (apigw-requestid).
    expect(error.requestId).toBeTruthy();
  });

  it('isAuthenticated accepts a good token and refuses bad, expired and foreign ones', async () => {
    const options = loggedIn();
    expect(await isAuthenticated(options)).toBe(true);

    const environment = loadEnvironment(options);
    if (!environment) throw new Error('no environment');
    const forged = `${environment.token.slice(0, environment.token.lastIndexOf('.'))}.AAAA`;
    expect(await isAuthenticated({ environment: { ...environment, token: forged } })).toBe(false);
    const otherClient = token(environment.userId ?? 'u', fresh('other'));
    expect(await isAuthenticated({ environment: { ...environment, token: otherClient } })).toBe(false);
    const expired = token(environment.userId ?? 'u', environment.clientId, { exp: Math.floor(Date.now() / 1000) - 60 });
    expect(await isAuthenticated({ environment: { ...environment, token: expired } })).toBe(false);
    expect(await isAuthenticated({ storage: new (options.storage.constructor as new () => typeof options.storage)() })).toBe(false);
  });

  it('initSession creates the session once, with the default state', async () => {
    const options = loggedIn({}, { env: { locale: 'en-GB' } });
    const first = await initSession(options);
    expect(first.session_id).toBe(getSessionId(undefined, options));
    expect(first.namespace).toBe(getNamespace(undefined, options));
    expect(first.created).toBe(true);
    expect(first.version).toBe(1);
    const environment = loadEnvironment(options);
    expect(first.state.env).toMatchObject({
      client_id: environment?.clientId,
      user_id: environment?.userId,
      app_id: environment?.appId,
      project_id: environment?.projectId,
      locale: 'en-GB',
    });
    expect(first.state.navigation).toEqual([]);
    expect(first.state).toHaveProperty('classifier_config');

    const second = await initSession(options);
    expect(second.created).toBe(false);
    expect(second.state).toEqual(first.state);
  });

  it('getSessionState and logSessionState read what updateSessionState wrote', async () => {
    const options = loggedIn();
    await initSession(options);
    const updated = await updateSessionState('theme', { mode: 'dark', contrast: 2 }, options);
    expect(updated.version).toBe(2);
    expect(updated.state.theme).toEqual({ mode: 'dark', contrast: 2 });

    const read = await getSessionState(options);
    expect(read.version).toBe(2);
    expect(read.state.theme).toEqual({ mode: 'dark', contrast: 2 });
    expect(['cache', 'store']).toContain(read.source);

    const lines: string[] = [];
    const logged = await logSessionState({ ...options, logger: { debug: (line: string) => lines.push(line) } });
    expect(logged.state).toEqual(read.state);
    expect(lines.join('\n')).toContain('"mode": "dark"');
  });

  it('updateSessionState is conditional with ifMatch: a stale version is 412 and writes nothing', async () => {
    const options = loggedIn();
    const init = await initSession(options);
    const ok = await updateSessionState('step', 1, { ...options, ifMatch: init.version });
    expect(ok.version).toBe(init.version + 1);

    const error = await apiError(updateSessionState('step', 2, { ...options, ifMatch: init.version }));
    expect(error.status).toBe(412);
    expect(error.code).toBe('version_mismatch');
    expect(error.requestId).toBeTruthy();
    expect((await getSessionState(options)).state.step).toBe(1);
  });

  it('the API refuses invalid keys and values with typed errors', async () => {
    const options = loggedIn();
    await initSession(options);
    const badKey = await apiError(updateSessionState('$set', 1, options));
    expect([badKey.status, badKey.code]).toEqual([400, 'invalid_key']);
    const badValue = await apiError(updateSessionState('doc', { 'a.b': 1 }, options));
    expect([badValue.status, badValue.code]).toEqual([400, 'invalid_state']);
  });

  it('updateSessionState on a session that does not exist is 404', async () => {
    const error = await apiError(updateSessionState('theme', 'dark', loggedIn()));
    expect([error.status, error.code]).toEqual([404, 'session_not_found']);
  });

  it('addNavigationItem appends entries in order', async () => {
    const options = loggedIn();
    await initSession(options);
    await addNavigationItem({ path: '/a' }, options);
    const result = await addNavigationItem({ path: '/b', title: 'B' }, options);
    expect(result.state.navigation).toEqual([{ path: '/a' }, { path: '/b', title: 'B' }]);
    expect(result.version).toBe(3);
  });

  it('listSessions lists the user sessions in the client, newest first', async () => {
    const user = fresh('user');
    const client = fresh('client');
    const older = loggedIn({ user, client, project: 'p-old' });
    const newer = loggedIn({ user, client, project: 'p-new' });
    await initSession(older);
    await initSession(newer);
    const listed = await listSessions(newer);
    expect(listed.namespace).toBe(`namespace:${client}:${user}`);
    expect(listed.sessions.map((s) => s.project_id)).toEqual(['p-new', 'p-old']);
    expect(listed.sessions[0]?.session_id).toBe(`session:${client}:${user}:web:p-new`);
    expect(listed.sessions[0]?.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('endSession removes the session, and is idempotent', async () => {
    const options = loggedIn();
    await initSession(options);
    await updateSessionState('theme', 'dark', options);
    await endSession(undefined, options);
    await endSession(undefined, options);
    expect((await listSessions(options)).sessions).toEqual([]);
    const after = await getSessionState(options);
    expect(after.source).toBe('default');
    expect(after.state.theme).toBeUndefined();
  });

  it('endAllSessions ends every session of the user in the client, and no one else', async () => {
    const user = fresh('user');
    const client = fresh('client');
    const a = loggedIn({ user, client, project: 'pa' });
    const b = loggedIn({ user, client, project: 'pb' });
    const someoneElse = loggedIn({ client, project: 'pa' });
    await Promise.all([initSession(a), initSession(b), initSession(someoneElse)]);
    await endAllSessions(a);
    expect((await listSessions(a)).sessions).toEqual([]);
    expect((await listSessions(someoneElse)).sessions).toHaveLength(1);
  });

  it('a token cannot reach another user session', async () => {
    const client = fresh('client');
    const alice = loggedIn({ client, user: fresh('alice') });
    const mallory = loggedIn({ client, user: fresh('mallory') });
    await initSession(alice);
    const aliceSession = getSessionId(undefined, alice);
    const error = await apiError(endSession(aliceSession, mallory));
    expect([error.status, error.code]).toEqual([403, 'forbidden']);
    const malloryEnv = loadEnvironment(mallory);
    const asAlice = { environment: { ...malloryEnv!, userId: loadEnvironment(alice)!.userId! } };
    expect((await apiError(getSessionState(asAlice))).status).toBe(403);
  });
});
