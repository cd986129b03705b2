import { describe, expect, it } from 'vitest';
import { currentProject, listSnapshots, loadProjectState, restoreSnapshot, saveProjectState } from '../../src/lib/projectState';
import { apiError, fresh, loggedIn } from './helpers';

const SNAPSHOT_ID = /^[1-9][0-9]*-[0-9]{8}T[0-9]{9}Z$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('against the local gateway: project state', () => {
  it('loadProjectState is null for a project that was never saved', async () => {
    const options = loggedIn();
    expect(await loadProjectState(currentProject(options), options)).toBeNull();
    expect(await listSnapshots(currentProject(options), {}, options)).toEqual({ snapshots: [], next: null });
  });

  it('saveProjectState writes versions with snapshots, and loadProjectState reads the newest', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    const first = await saveProjectState(project, { doc: 'one', n: [1] }, options);
    expect(first.version).toBe(1);
    expect(first.saved_at).toMatch(TIMESTAMP);
    expect(first.snapshot.status).toBe('ok');
    expect(first.snapshot.id).toMatch(SNAPSHOT_ID);

    const second = await saveProjectState(project, { doc: 'two' }, { ...options, ifMatch: first.version });
    expect(second.version).toBe(2);

    const loaded = await loadProjectState(project, options);
    expect(loaded).toMatchObject({ state: { doc: 'two' }, version: 2, saved_at: second.saved_at });
    expect(['cache', 'store']).toContain(loaded?.source);
  });

  it('saveProjectState with a stale ifMatch is 412', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    await saveProjectState(project, { v: 1 }, options);
    await saveProjectState(project, { v: 2 }, options);
    const error = await apiError(saveProjectState(project, { v: 3 }, { ...options, ifMatch: 1 }));
    expect([error.status, error.code]).toEqual([412, 'version_mismatch']);
    expect((await loadProjectState(project, options))?.state).toEqual({ v: 2 });
  });

  it('listSnapshots pages newest first with limit and before', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    const saved = [];
    for (let v = 1; v <= 3; v++) saved.push(await saveProjectState(project, { v }, options));

    const all = await listSnapshots(project, {}, options);
    expect(all.snapshots.map((s) => s.version)).toEqual([3, 2, 1]);
    expect(all.snapshots.map((s) => s.id)).toEqual(saved.map((s) => s.snapshot.id).reverse());
    expect(all.next).toBeNull();
    for (const snapshot of all.snapshots) {
      expect(snapshot.size).toBeGreaterThan(0);
      expect(snapshot.saved_at).toMatch(TIMESTAMP);
    }

    const page1 = await listSnapshots(project, { limit: 2 }, options);
    expect(page1.snapshots.map((s) => s.version)).toEqual([3, 2]);
    expect(page1.next).not.toBeNull();
    const page2 = await listSnapshots(project, { limit: 2, before: page1.next ?? undefined }, options);
    expect(page2.snapshots.map((s) => s.version)).toEqual([1]);
    expect(page2.next).toBeNull();
  });

  it('restoreSnapshot saves an old snapshot state as a new version', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    const v1 = await saveProjectState(project, { doc: 'original' }, options);
    await saveProjectState(project, { doc: 'edited' }, options);

    const restored = await restoreSnapshot(project, v1.snapshot.id ?? '', { ...options, ifMatch: 2 });
    expect(restored.version).toBe(3);
    expect(restored.snapshot.status).toBe('ok');
    expect((await loadProjectState(project, options))?.state).toEqual({ doc: 'original' });
    expect((await listSnapshots(project, { limit: 1 }, options)).snapshots[0]?.version).toBe(3);
  });

  it('restoreSnapshot of an unknown snapshot is 404', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    await saveProjectState(project, { a: 1 }, options);
    const error = await apiError(restoreSnapshot(project, '99-20260101T000000000Z', options));
    expect([error.status, error.code]).toEqual([404, 'snapshot_not_found']);
  });

  it('takes every id character in the path, "@" and "." included', async () => {
    const options = loggedIn({ app: 'web.app', project: `${fresh('p')}@team.example` });
    const project = currentProject(options);
    const saved = await saveProjectState(project, { ok: true }, options);
    expect((await loadProjectState(project, options))?.state).toEqual({ ok: true });
    expect((await listSnapshots(project, {}, options)).snapshots[0]?.id).toBe(saved.snapshot.id);
  });

  it('a snapshot cursor that is not a snapshot id is 404', async () => {
    const options = loggedIn();
    const project = currentProject(options);
    const error = await apiError(listSnapshots(project, { before: 'not-a-snapshot' }, options));
    expect([error.status, error.code]).toEqual([404, 'snapshot_not_found']);
  });

  it("a token cannot reach another client's project", async () => {
    const options = loggedIn();
    const foreign = { ...currentProject(options), clientId: fresh('other') };
    const error = await apiError(loadProjectState(foreign, options));
    expect([error.status, error.code]).toEqual([403, 'forbidden']);
  });
});
