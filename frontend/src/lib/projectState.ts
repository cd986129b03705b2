/**
 * Project state: save, load, the snapshot timeline, and restore.
 *
 * A project is named by `{clientId, appId, projectId}`; the token's `client_id` must be the
 * project's. Like the session functions, these read the stored environment for the API base
 * URL and token unless a client or an environment is passed.
 */

import type { StatewayClient } from './api';
import { MissingEnvironmentError, StatewayApiError } from './errors';
import { type ProjectRef, projectRef } from './ids';
import { type SessionOptions, type WriteOptions, clientFor, loadEnvironment } from './session';
import type {
  JsonObject,
  ProjectLoadResponse,
  ProjectSaveRequest,
  ProjectSaveResponse,
  SnapshotPage,
} from './types';

export interface SnapshotQuery {
  /** Page size, 1 to 100 (the API's default is 20). */
  limit?: number;
  /** A snapshot id: list only snapshots older than it (the `next` of the previous page). */
  before?: string;
}

function clientOf(options: SessionOptions): StatewayClient {
  if (options.client) return options.client;
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment) throw new MissingEnvironmentError();
  return clientFor(environment, options);
}

/** The project of the stored environment (its client, app and project ids). */
export function currentProject(options: SessionOptions = {}): ProjectRef {
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment) throw new MissingEnvironmentError();
  return projectRef(environment.clientId, environment.appId, environment.projectId);
}

function projectPath(project: ProjectRef, ...rest: string[]): string {
  // Valid ids are path-safe as they are ('@' is allowed in a path segment), so they are sent
  // unencoded: the path the server sees is exactly the ids.
  const { clientId, appId, projectId } = projectRef(project.clientId, project.appId, project.projectId);
  return ['/api/project-state', clientId, appId, projectId, ...rest.map(encodeURIComponent)].join('/');
}

function writeOptions(options: WriteOptions): { ifMatch?: number | string } {
  return options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {};
}

/** Save `state` as the project's new version; the response says whether its snapshot was written. */
export async function saveProjectState(
  project: ProjectRef,
  state: JsonObject,
  options: WriteOptions = {},
): Promise<ProjectSaveResponse> {
  const body: ProjectSaveRequest = { state };
  return (await clientOf(options).put<ProjectSaveResponse>(projectPath(project), { body, ...writeOptions(options) }))
    .data;
}

/** The project's state, or null when no tier has any (404 `project_state_not_found`). */
export async function loadProjectState(
  project: ProjectRef,
  options: SessionOptions = {},
): Promise<ProjectLoadResponse | null> {
  try {
    return (await clientOf(options).get<ProjectLoadResponse>(projectPath(project))).data;
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
  return (
    await clientOf(options).get<SnapshotPage>(projectPath(project, 'snapshots'), {
      query: { limit: query.limit, before: query.before },
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
  return (
    await clientOf(options).post<ProjectSaveResponse>(projectPath(project, 'snapshots', snapshotId, 'restore'), {
      ...writeOptions(options),
    })
  ).data;
}
