/**
 * User sessions from an app's point of view.
 *
 * After login the app saves its environment (api base URL, token, client/app/project ids)
 * with {@link saveEnvironment}; it is kept in memory (the token only there, unless asked to
 * be remembered) and every function here uses it and the one client built for it, builds the
 * session id `session:<client>:<user>:<app>:<project>` and the namespace
 * `namespace:<client>:<user>` from it and the user id, and calls the API.
 *
 * Every function takes optional {@link SessionOptions} last, to pass an environment,
 * a storage, a client or a fetch explicitly (tests, server-side rendering, several users).
 */

import { type StatewayClient, ifMatchHeader } from './api';
import {
  type EnvironmentOptions,
  type SessionEnvironment,
  getClient,
  loadEnvironment,
  requireEnvironment,
} from './environment';
import { MissingEnvironmentError, StatewayApiError } from './errors';
import { type SessionRef, buildNamespace, buildSessionId, parseSessionId, validateId } from './ids';
import { decodeTokenClaims, isTokenExpired } from './token';
import type {
  JsonValue,
  NavigationEntry,
  SessionInitRequest,
  SessionInitResponse,
  SessionListResponse,
  SessionStateResponse,
  SessionUpdateRequest,
  SessionUpdateResponse,
} from './types';

export {
  ENVIRONMENT_STORAGE_KEY,
  type SaveEnvironmentOptions,
  type SessionEnvironment,
  type StorageLike,
  type StoredEnvironment,
  clearEnvironment,
  clientFor,
  getClient,
  loadEnvironment,
  loadStoredEnvironment,
  saveEnvironment,
} from './environment';
export { decodeTokenClaims, isTokenExpired } from './token';

export interface SessionOptions extends EnvironmentOptions {
  /** The user whose session it is (default: the environment's, else the token's `sub`). */
  userId?: string;
}

export interface WriteOptions extends SessionOptions {
  /** Only write if the stored version is this one (a version or its ETag); else 412. */
  ifMatch?: number | string;
}

// Environment -----------------------------------------------------------------------

function userIdOf(environment: SessionEnvironment, options: SessionOptions, userId?: string): string {
  const candidate = userId ?? options.userId ?? environment.userId ?? decodeTokenClaims(environment.token)?.sub;
  if (candidate === undefined || candidate === null) {
    throw new MissingEnvironmentError('No user id: pass one, store it in the environment, or use a token with `sub`.');
  }
  return validateId('user_id', candidate);
}

interface Context {
  environment: SessionEnvironment;
  client: StatewayClient;
  ref: SessionRef;
  sessionId: string;
}

function context(options: SessionOptions): Context {
  const environment = requireEnvironment(options);
  const ref: SessionRef = {
    clientId: environment.clientId,
    userId: userIdOf(environment, options),
    appId: environment.appId,
    projectId: environment.projectId,
  };
  return { environment, client: getClient(options), ref, sessionId: buildSessionId(ref) };
}

/** The session id from the stored environment and the user id (default: the environment's or the token's). */
export function getSessionId(userId?: string, options: SessionOptions = {}): string {
  const environment = requireEnvironment(options);
  return buildSessionId({
    clientId: environment.clientId,
    userId: userIdOf(environment, options, userId),
    appId: environment.appId,
    projectId: environment.projectId,
  });
}

/** The namespace `namespace:<client_id>:<user_id>` from the stored environment and the user id. */
export function getNamespace(userId?: string, options: SessionOptions = {}): string {
  const environment = requireEnvironment(options);
  return buildNamespace(environment.clientId, userIdOf(environment, options, userId));
}

// API -------------------------------------------------------------------------------

/**
 * True when there is an environment with a token and the API accepts the token.
 *
 * Asks `GET /api/session/list?client_id=…`: 401 or 403 mean false; any other failure
 * (the API unreachable, 503) is thrown, since it says nothing about the token.
 */
export async function isAuthenticated(options: SessionOptions = {}): Promise<boolean> {
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment || isTokenExpired(environment.token)) return false;
  const client = getClient(options);
  try {
    await client.get('/api/session/list', { params: { query: { client_id: environment.clientId } } });
    return true;
  } catch (error) {
    if (error instanceof StatewayApiError && (error.status === 401 || error.status === 403)) return false;
    throw error;
  }
}

/** Load the session, or create it with the default state (`POST /api/session/init`). */
export async function initSession(options: SessionOptions = {}): Promise<SessionInitResponse> {
  const { environment, client, ref } = context(options);
  const body: SessionInitRequest = {
    client_id: ref.clientId,
    user_id: ref.userId,
    app_id: ref.appId,
    project_id: ref.projectId,
    ...(environment.env ? { env: environment.env } : {}),
  };
  return (await client.post('/api/session/init', { body })).data;
}

/** The session's state (`GET /api/session/state`); `source` says which tier answered. */
export async function getSessionState(options: SessionOptions = {}): Promise<SessionStateResponse> {
  const { client, sessionId } = context(options);
  return (await client.get('/api/session/state', { params: { query: { session_id: sessionId } } })).data;
}

/** Print the session's full state for debugging, and return it. */
export async function logSessionState(
  options: SessionOptions & { logger?: Pick<Console, 'debug'> } = {},
): Promise<SessionStateResponse> {
  const result = await getSessionState(options);
  const logger = options.logger ?? console;
  logger.debug(
    `[stateway] ${result.session_id} v${result.version} (from ${result.source})\n${JSON.stringify(result.state, null, 2)}`,
  );
  return result;
}

async function update(body: SessionUpdateRequest, client: StatewayClient, options: WriteOptions): Promise<SessionUpdateResponse> {
  return (await client.patch('/api/session/update', { body, params: { header: ifMatchHeader(options.ifMatch) } })).data;
}

/** Set one top-level key of the session's state (`PATCH /api/session/update`). */
export async function updateSessionState(
  key: string,
  value: JsonValue,
  options: WriteOptions = {},
): Promise<SessionUpdateResponse> {
  const { client, sessionId } = context(options);
  return update({ session_id: sessionId, key, value }, client, options);
}

/** Append one entry to `state.navigation` (the API keeps the newest ones). */
export async function addNavigationItem(
  item: NavigationEntry,
  options: WriteOptions = {},
): Promise<SessionUpdateResponse> {
  const { client, sessionId } = context(options);
  return update({ session_id: sessionId, navigation: item }, client, options);
}

/** The user's sessions within the environment's client, newest first. */
export async function listSessions(options: SessionOptions = {}): Promise<SessionListResponse> {
  const environment = requireEnvironment(options);
  const client = getClient(options);
  return (await client.get('/api/session/list', { params: { query: { client_id: environment.clientId } } })).data;
}

/** End one session (default: this environment's); ending a session that is gone succeeds. */
export async function endSession(sessionId?: string, options: SessionOptions = {}): Promise<void> {
  requireEnvironment(options);
  const id = sessionId === undefined ? context(options).sessionId : buildSessionId(parseSessionId(sessionId));
  await getClient(options).delete('/api/session/end', { params: { query: { session_id: id } } });
}

/** End every session of the user within the environment's client. */
export async function endAllSessions(options: SessionOptions = {}): Promise<void> {
  const environment = requireEnvironment(options);
  await getClient(options).delete('/api/session/end', {
    params: { query: { client_id: environment.clientId, all: 'true' } },
  });
}
