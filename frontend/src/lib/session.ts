/**
 * User sessions from an app's point of view.
 *
 * After login the app saves its environment (api base URL, token, client/app/project ids)
 * with {@link saveEnvironment}; every function here then reads it back from
 * `localStorage`, builds the session id `session:<client>:<user>:<app>:<project>` and the
 * namespace `namespace:<client>:<user>` from it and the user id, and calls the API.
 *
 * Every function takes optional {@link SessionOptions} last, to pass an environment,
 * a storage, a client or a fetch explicitly (tests, server-side rendering, several users).
 */

import { type FetchLike, type RetryOptions, StatewayClient } from './api';
import { MissingEnvironmentError, StatewayApiError } from './errors';
import { type SessionRef, buildNamespace, buildSessionId, parseSessionId, validateId } from './ids';
import type {
  JsonObject,
  JsonValue,
  NavigationEntry,
  SessionInitRequest,
  SessionInitResponse,
  SessionListResponse,
  SessionStateResponse,
  SessionUpdateRequest,
  SessionUpdateResponse,
} from './types';

/** The `localStorage` key the environment is saved under. */
export const ENVIRONMENT_STORAGE_KEY = 'stateway.environment';

/** What an app knows after login. */
export interface SessionEnvironment {
  /** The bearer token (a JWT with `sub` and `client_id`). */
  token: string;
  clientId: string;
  appId: string;
  projectId: string;
  /** Defaults to the token's `sub`. */
  userId?: string;
  /** Empty or absent: the API is on the page's origin. */
  apiBaseUrl?: string;
  /** Extra values for `state.env` when the session is created. */
  env?: JsonObject;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface SessionOptions {
  /** Use this environment instead of the stored one. */
  environment?: SessionEnvironment;
  /** Where the environment is saved (default `globalThis.localStorage`). */
  storage?: StorageLike;
  /** Use this client instead of one built from the environment. */
  client?: StatewayClient;
  /** The fetch of the client built from the environment. */
  fetch?: FetchLike;
  retry?: RetryOptions;
  /** The user whose session it is (default: the environment's, else the token's `sub`). */
  userId?: string;
}

export interface WriteOptions extends SessionOptions {
  /** Only write if the stored version is this one (a version or its ETag); else 412. */
  ifMatch?: number | string;
}

// Environment -----------------------------------------------------------------------

function storageOf(options: SessionOptions): StorageLike {
  const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!storage) throw new MissingEnvironmentError('No storage is available for the Stateway environment.');
  return storage;
}

function checkEnvironment(environment: SessionEnvironment): SessionEnvironment {
  if (typeof environment.token !== 'string' || environment.token.trim() === '') {
    throw new MissingEnvironmentError('The environment has no token.');
  }
  validateId('client_id', environment.clientId);
  validateId('app_id', environment.appId);
  validateId('project_id', environment.projectId);
  if (environment.userId !== undefined) validateId('user_id', environment.userId);
  return environment;
}

/** Save the environment to storage (after login). Throws if an id is invalid or the token is missing. */
export function saveEnvironment(environment: SessionEnvironment, options: SessionOptions = {}): void {
  checkEnvironment(environment);
  storageOf(options).setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify(environment));
}

/** The stored environment, or null when there is none (or it is unreadable). */
export function loadEnvironment(options: SessionOptions = {}): SessionEnvironment | null {
  let raw: string | null;
  try {
    raw = storageOf(options).getItem(ENVIRONMENT_STORAGE_KEY);
  } catch {
    return null;
  }
  if (raw === null) return null;
  try {
    return checkEnvironment(JSON.parse(raw) as SessionEnvironment);
  } catch {
    return null;
  }
}

/** Forget the stored environment (logout). */
export function clearEnvironment(options: SessionOptions = {}): void {
  storageOf(options).removeItem(ENVIRONMENT_STORAGE_KEY);
}

/** The claims of a JWT, decoded without verification (the API verifies); null if it is not a JWT. */
export function decodeTokenClaims(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** True when the token carries an `exp` in the past (a token without `exp` is left to the API). */
export function isTokenExpired(token: string, now: Date = new Date()): boolean {
  const exp = decodeTokenClaims(token)?.exp;
  return typeof exp === 'number' && exp * 1000 <= now.getTime();
}

function requireEnvironment(options: SessionOptions): SessionEnvironment {
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment) throw new MissingEnvironmentError();
  return checkEnvironment(environment);
}

function userIdOf(environment: SessionEnvironment, options: SessionOptions, userId?: string): string {
  const candidate = userId ?? options.userId ?? environment.userId ?? decodeTokenClaims(environment.token)?.sub;
  if (candidate === undefined || candidate === null) {
    throw new MissingEnvironmentError('No user id: pass one, store it in the environment, or use a token with `sub`.');
  }
  return validateId('user_id', candidate);
}

/** A client for the environment's API base URL and token. */
export function clientFor(environment: SessionEnvironment, options: Pick<SessionOptions, 'fetch' | 'retry'> = {}): StatewayClient {
  return new StatewayClient({
    baseUrl: environment.apiBaseUrl ?? '',
    token: environment.token,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
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
  return { environment, client: options.client ?? clientFor(environment, options), ref, sessionId: buildSessionId(ref) };
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
 * True when an environment is stored and the API accepts its token.
 *
 * Asks `GET /api/session/list?client_id=…`: 401 or 403 mean false; any other failure
 * (the API unreachable, 503) is thrown, since it says nothing about the token.
 */
export async function isAuthenticated(options: SessionOptions = {}): Promise<boolean> {
  const environment = options.environment ?? loadEnvironment(options);
  if (!environment || isTokenExpired(environment.token)) return false;
  const client = options.client ?? clientFor(environment, options);
  try {
    await client.get<SessionListResponse>('/api/session/list', { query: { client_id: environment.clientId } });
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
  return (await client.post<SessionInitResponse>('/api/session/init', { body })).data;
}

/** The session's state (`GET /api/session/state`); `source` says which tier answered. */
export async function getSessionState(options: SessionOptions = {}): Promise<SessionStateResponse> {
  const { client, sessionId } = context(options);
  return (await client.get<SessionStateResponse>('/api/session/state', { query: { session_id: sessionId } })).data;
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

/** Set one top-level key of the session's state (`PATCH /api/session/update`). */
export async function updateSessionState(
  key: string,
  value: JsonValue,
  options: WriteOptions = {},
): Promise<SessionUpdateResponse> {
  const { client, sessionId } = context(options);
  const body: SessionUpdateRequest = { session_id: sessionId, key, value };
  return (
    await client.patch<SessionUpdateResponse>('/api/session/update', {
      body,
      ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
    })
  ).data;
}

/** Append one entry to `state.navigation` (the API keeps the newest ones). */
export async function addNavigationItem(
  item: NavigationEntry,
  options: WriteOptions = {},
): Promise<SessionUpdateResponse> {
  const { client, sessionId } = context(options);
  const body: SessionUpdateRequest = { session_id: sessionId, navigation: item };
  return (
    await client.patch<SessionUpdateResponse>('/api/session/update', {
      body,
      ...(options.ifMatch !== undefined ? { ifMatch: options.ifMatch } : {}),
    })
  ).data;
}

/** The user's sessions within the environment's client, newest first. */
export async function listSessions(options: SessionOptions = {}): Promise<SessionListResponse> {
  const environment = requireEnvironment(options);
  const client = options.client ?? clientFor(environment, options);
  return (await client.get<SessionListResponse>('/api/session/list', { query: { client_id: environment.clientId } }))
    .data;
}

/** End one session (default: this environment's); ending a session that is gone succeeds. */
export async function endSession(sessionId?: string, options: SessionOptions = {}): Promise<void> {
  const environment = requireEnvironment(options);
  const id = sessionId === undefined ? context(options).sessionId : buildSessionId(parseSessionId(sessionId));
  const client = options.client ?? clientFor(environment, options);
  await client.delete('/api/session/end', { query: { session_id: id } });
}

/** End every session of the user within the environment's client. */
export async function endAllSessions(options: SessionOptions = {}): Promise<void> {
  const environment = requireEnvironment(options);
  const client = options.client ?? clientFor(environment, options);
  await client.delete('/api/session/end', { query: { client_id: environment.clientId, all: 'true' } });
}
