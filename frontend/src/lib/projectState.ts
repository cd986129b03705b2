/**
 * Project state: save, load, the snapshot timeline, and restore.
 *
 * A project is named by `{clientId, appId, projectId}`; the token's `client_id` must be the
 * project's. Like the session functions, these use the environment in use (saved after login)
 * and the one client built for it, unless a client or an environment is passed.
 */

import { ifMatchHeader } from './api';
import { getClient, loadEnvironment } from './environment';
import { MissingEnvironmentError, StatewayApiError } from './errors';
import { type ProjectRef, projectRef } from './ids';
import type { SessionOptions, WriteOptions } from './session';
import type { JsonObject, ProjectLoadResponse, ProjectSaveRequest, ProjectSaveResponse, SnapshotPage } from './types';

export interface SnapshotQuery {
  /** Page size, 1 to 100 (the API's default is 20). */
  limit?: number;
  /** A snapshot id: list only snapshots older than it (the `next` of the previous page). */
  before?: string;
}

/** The project of the stored environment (its client, app and project ids). */
export function currentProject(options: SessionOptions = {}): ProjectRef {
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment) throw new MissingEnvironmentError();
  return projectRef(environment.clientId, environment.appId, environment.projectId);
}

/** The path parameters of a project, ids validated. */
function projectPath(project: ProjectRef): { client_id: string; app_id: string; project_id: string } {
  const { clientId, appId, projectId } = projectRef(project.clientId, project.appId, project.projectId);
  return { client_id: clientId, app_id: appId, project_id: projectId };
}

/** Save `state` as the project's new version; the response says whether its snapshot was written. */
export async function saveProjectState(
  project: ProjectRef,
  state: JsonObject,
  options: WriteOptions = {},
): Promise<ProjectSaveResponse> {
  const body: ProjectSaveRequest = { state };
  const path = projectPath(project);
  return (
    await getClient(options).put('/api/project-state/{client_id}/{app_id}/{project_id}', {
      params: { path, header: ifMatchHeader(options.ifMatch) },
      body,
    })
  ).data;
}

/** The project's state, or null when no tier has any (404 `project_state_not_found`). */
export async function loadProjectState(
  project: ProjectRef,
  options: SessionOptions = {},
): Promise<ProjectLoadResponse | null> {
  try {
    const path = projectPath(project);
    return (await getClient(options).get('/api/project-state/{client_id}/{app_id}/{project_id}', { params: { path } }))
      .data;
  } catch (error) {
    if (error instanceof StatewayApiError && error.code === 'project_state_not_found') return null;
    throw error;
  }
}

/** One page of the project's snapshots, newest first; pass `next` as `before` for the next page. */
export async function listSnapshots(
  project: ProjectRef,
  query: SnapshotQuery = {},
  options: SessionOptions = {},
): Promise<SnapshotPage> {
  const path = projectPath(project);
  return (
    await getClient(options).get('/api/project-state/{client_id}/{app_id}/{project_id}/snapshots', {
      params: { path, query: { limit: query.limit, before: query.before } },
    })
  ).data;
}

/** Save a snapshot's state as the project's new version (with its own new snapshot). */
export async function restoreSnapshot(
  project: ProjectRef,
  snapshotId: string,
  options: WriteOptions = {},
): Promise<ProjectSaveResponse> {
  if (typeof snapshotId !== 'string' || snapshotId === '') throw new TypeError('snapshotId is required.');
  const path = { ...projectPath(project), snapshot_id: snapshotId };
  return (
    await getClient(options).post('/api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore', {
      params: { path, header: ifMatchHeader(options.ifMatch) },
    })
  ).data;
}
