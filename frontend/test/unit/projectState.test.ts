import { describe, expect, it } from 'vitest';
import { InvalidIdError } from '../../src/lib/errors';
import { currentProject, listSnapshots, loadProjectState, restoreSnapshot, saveProjectState } from '../../src/lib/projectState';
import type { SessionEnvironment } from '../../src/lib/session';
import { errorBody, fakeFetch } from '../support/fakeFetch';

const ENV: SessionEnvironment = { token: 't', clientId: 'acme', appId: 'web', projectId: 'p1', apiBaseUrl: 'http://api.test' };
const PROJECT = { clientId: 'acme', appId: 'web', projectId: 'p.1@x' };
const BASE = 'http://api.test/api/project-state/acme/web/p.1@x';
const SAVED = { version: 2, saved_at: '2026-11-24T12:34:56.789Z', snapshot: { id: '2-20261124T123456789Z', status: 'ok' } };

describe('project state calls', () => {
  it('saveProjectState puts the state, conditionally when asked', async () => {
    const fetch = fakeFetch([{ body: SAVED, headers: { ETag: '"2"' } }]);
    const result = await saveProjectState(PROJECT, { doc: [1, 2] }, { environment: ENV, fetch, ifMatch: 1 });
    expect(result).toEqual(SAVED);
    expect(fetch.calls[0]).toMatchObject({ url: BASE, method: 'PUT', body: { state: { doc: [1, 2] } }, headers: { 'if-match': '"1"' } });
  });

  it('loadProjectState returns the state, or null when none is stored', async () => {
    const loaded = { state: { a: 1 }, version: 2, saved_at: SAVED.saved_at, source: 'store' };
    const fetch = fakeFetch([{ body: loaded }, { status: 404, body: errorBody('project_state_not_found') }]);
    expect(await loadProjectState(PROJECT, { environment: ENV, fetch })).toEqual(loaded);
    expect(await loadProjectState(PROJECT, { environment: ENV, fetch })).toBeNull();
    expect(fetch.calls[0]).toMatchObject({ url: BASE, method: 'GET' });
  });

  it('loadProjectState throws other errors', async () => {
    const fetch = fakeFetch([{ status: 403, body: errorBody('forbidden') }]);
    await expect(loadProjectState(PROJECT, { environment: ENV, fetch })).rejects.toMatchObject({ status: 403 });
  });

  it('listSnapshots pages with limit and before', async () => {
    const fetch = fakeFetch([{ body: { snapshots: [], next: null } }]);
    await listSnapshots(PROJECT, {}, { environment: ENV, fetch });
    await listSnapshots(PROJECT, { limit: 5, before: '9-20261124T123456789Z' }, { environment: ENV, fetch });
    expect(fetch.calls.map((c) => c.url)).toEqual([
      `${BASE}/snapshots`,
      `${BASE}/snapshots?limit=5&before=9-20261124T123456789Z`,
    ]);
  });

  it('restoreSnapshot posts to the snapshot', async () => {
    const fetch = fakeFetch([{ body: SAVED }]);
    await restoreSnapshot(PROJECT, '1-20261124T123456789Z', { environment: ENV, fetch, ifMatch: '"1"' });
    expect(fetch.calls[0]).toMatchObject({
      url: `${BASE}/snapshots/1-20261124T123456789Z/restore`,
      method: 'POST',
      headers: { 'if-match': '"1"' },
      body: undefined,
    });
  });

  it('validates the project ids before calling', async () => {
    const fetch = fakeFetch([{ body: SAVED }]);
    await expect(saveProjectState({ ...PROJECT, appId: 'a/b' }, {}, { environment: ENV, fetch })).rejects.toBeInstanceOf(InvalidIdError);
    expect(fetch.calls).toHaveLength(0);
  });

  it('currentProject is the stored environment project', () => {
    expect(currentProject({ environment: ENV })).toEqual({ clientId: 'acme', appId: 'web', projectId: 'p1' });
  });
});
