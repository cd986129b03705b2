/**
 * The environment an app has after login (API base URL, token, client/app/project ids).
 *
 * It is read from storage once and then kept in memory, together with the one client built
 * for it; the client is built again only when the API base URL (or the `fetch` / `retry`
 * passed in) changes, since it asks the environment for the current token on every request.
 *
 * The token itself is not written to storage unless asked (`rememberToken: true`): storage
 * such as `localStorage` can be read by any script that runs on the page, so by default it
 * holds the ids and the base URL only, and the token lives in this page's memory.
 */

import { type FetchLike, type RetryOptions, StatewayClient } from './api';
import { MissingEnvironmentError } from './errors';
import { validateId } from './ids';
import type { JsonObject } from './types';

/** The storage key the environment is saved under. */
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

/** What storage holds: the environment without its token, unless the token was remembered. */
export interface StoredEnvironment extends Omit<SessionEnvironment, 'token'> {
  token?: string;
  /** True when the token was saved on purpose, with `rememberToken`. */
  rememberToken?: boolean;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface EnvironmentOptions {
  /** Use this environment instead of the stored one. */
  environment?: SessionEnvironment;
  /** Where the environment is saved (default `globalThis.localStorage`). */
  storage?: StorageLike;
  /** Use this client instead of the one built for the environment. */
  client?: StatewayClient;
  /** The fetch of the client built for the environment. */
  fetch?: FetchLike;
  retry?: RetryOptions;
}

export interface SaveEnvironmentOptions extends Pick<EnvironmentOptions, 'storage'> {
  /**
   * Also write the token to storage, so that a reload finds it (default false: the token is
   * kept in memory only). Any script running on the page can then read it.
   */
  rememberToken?: boolean;
}

interface CachedClient {
  client: StatewayClient;
  baseUrl: string;
  fetch: FetchLike | undefined;
  retry: RetryOptions | undefined;
}

/** One storage's environment, as read (once) or saved, and the client built for it. */
interface Slot {
  stored: StoredEnvironment | null;
  environment: SessionEnvironment | null;
  client: CachedClient | null;
}

const slots = new WeakMap<StorageLike, Slot>();
const explicitClients = new WeakMap<SessionEnvironment, CachedClient>();

function storageOf(options: Pick<EnvironmentOptions, 'storage'>): StorageLike {
  const storage = options.storage ?? (globalThis as { localStorage?: StorageLike }).localStorage;
  if (!storage) throw new MissingEnvironmentError('No storage is available for the Stateway environment.');
  return storage;
}

function checkIds<T extends Omit<SessionEnvironment, 'token'>>(environment: T): T {
  validateId('client_id', environment.clientId);
  validateId('app_id', environment.appId);
  validateId('project_id', environment.projectId);
  if (environment.userId !== undefined) validateId('user_id', environment.userId);
  return environment;
}

/** `environment` if its token is present and its ids are valid; throws otherwise. */
export function checkEnvironment(environment: SessionEnvironment): SessionEnvironment {
  if (typeof environment.token !== 'string' || environment.token.trim() === '') {
    throw new MissingEnvironmentError('The environment has no token.');
  }
  return checkIds(environment);
}

function parseStored(raw: string | null): StoredEnvironment | null {
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    return checkIds(value as StoredEnvironment);
  } catch {
    return null;
  }
}

function read(storage: StorageLike): Slot {
  let raw: string | null = null;
  try {
    raw = storage.getItem(ENVIRONMENT_STORAGE_KEY);
  } catch {
    // Storage the browser refuses to open reads as empty.
  }
  const stored = parseStored(raw);
  if (stored && stored.token !== undefined && stored.rememberToken !== true) {
    // Saved before tokens were kept in memory by default: take the token out of storage.
    delete stored.token;
    try {
      storage.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify(stored));
    } catch {
      // Left as it was; the token is not used either way.
    }
  }
  let environment: SessionEnvironment | null = null;
  if (stored?.rememberToken === true && typeof stored.token === 'string' && stored.token.trim() !== '') {
    const { rememberToken: _, token, ...rest } = stored;
    environment = Object.freeze({ ...rest, token });
  }
  return { stored, environment, client: null };
}

/** The slot of `storage`, reading storage the first time only. */
function slotOf(storage: StorageLike): Slot {
  let slot = slots.get(storage);
  if (!slot) {
    slot = read(storage);
    slots.set(storage, slot);
  }
  return slot;
}

/**
 * Keep the environment in memory and save it to storage (after login, or when the user
 * changes it): the ids and base URL always, the token only with `rememberToken`.
 *
 * Throws if an id is invalid or the token is missing. The client already built for this
 * storage is kept when the API base URL is the same; it then sends the new token.
 */
export function saveEnvironment(environment: SessionEnvironment, options: SaveEnvironmentOptions = {}): void {
  checkEnvironment(environment);
  const storage = storageOf(options);
  const { token, ...rest } = environment;
  const stored: StoredEnvironment = options.rememberToken === true ? { ...rest, token, rememberToken: true } : rest;
  storage.setItem(ENVIRONMENT_STORAGE_KEY, JSON.stringify(stored));
  const slot = slots.get(storage);
  const kept = Object.freeze({ ...environment });
  if (slot) {
    slot.stored = stored;
    slot.environment = kept;
  } else {
    slots.set(storage, { stored, environment: kept, client: null });
  }
}

/** The environment in use (in memory, else read from storage once), or null when none is usable. */
export function loadEnvironment(options: Pick<EnvironmentOptions, 'storage'> = {}): SessionEnvironment | null {
  try {
    return slotOf(storageOf(options)).environment;
  } catch {
    return null;
  }
}

/** What storage holds (no token unless it was remembered), e.g. to fill a login form in again. */
export function loadStoredEnvironment(options: Pick<EnvironmentOptions, 'storage'> = {}): StoredEnvironment | null {
  try {
    const stored = slotOf(storageOf(options)).stored;
    return stored ? { ...stored } : null;
  } catch {
    return null;
  }
}

/** Forget the environment, in memory and in storage (logout). */
export function clearEnvironment(options: Pick<EnvironmentOptions, 'storage'> = {}): void {
  const storage = storageOf(options);
  storage.removeItem(ENVIRONMENT_STORAGE_KEY);
  slots.set(storage, { stored: null, environment: null, client: null });
}

function sameRetry(a: RetryOptions | undefined, b: RetryOptions | undefined): boolean {
  return a === b || (a?.attempts === b?.attempts && a?.baseDelayMs === b?.baseDelayMs && a?.maxDelayMs === b?.maxDelayMs);
}

function reuse(
  cached: CachedClient | null | undefined,
  baseUrl: string,
  options: Pick<EnvironmentOptions, 'fetch' | 'retry'>,
): cached is CachedClient {
  return !!cached && cached.baseUrl === baseUrl && cached.fetch === options.fetch && sameRetry(cached.retry, options.retry);
}

function build(
  baseUrl: string,
  token: () => string | undefined,
  options: Pick<EnvironmentOptions, 'fetch' | 'retry'>,
): CachedClient {
  const client = new StatewayClient({
    baseUrl,
    token,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
  });
  return { client, baseUrl, fetch: options.fetch, retry: options.retry };
}

/** The client for an environment passed explicitly: built once per environment object. */
export function clientFor(
  environment: SessionEnvironment,
  options: Pick<EnvironmentOptions, 'fetch' | 'retry'> = {},
): StatewayClient {
  const baseUrl = environment.apiBaseUrl ?? '';
  const cached = explicitClients.get(environment);
  if (reuse(cached, baseUrl, options)) return cached.client;
  const built = build(baseUrl, () => environment.token, options);
  explicitClients.set(environment, built);
  return built.client;
}

/** The environment `options` name (an explicit one, else the stored one); throws when there is none. */
export function requireEnvironment(options: EnvironmentOptions): SessionEnvironment {
  if (options.environment) return checkEnvironment(options.environment);
  const environment = loadEnvironment(options);
  if (!environment) throw new MissingEnvironmentError();
  return environment;
}

/**
 * The client the library's calls use: `options.client`, else the one of the explicit
 * environment, else the one of the stored environment (built once, and again only when its
 * API base URL changes). Throws {@link MissingEnvironmentError} when there is no environment.
 */
export function getClient(options: EnvironmentOptions = {}): StatewayClient {
  if (options.client) return options.client;
  if (options.environment) return clientFor(checkEnvironment(options.environment), options);
  const slot = slotOf(storageOf(options));
  const environment = slot.environment;
  if (!environment) throw new MissingEnvironmentError();
  const baseUrl = environment.apiBaseUrl ?? '';
  if (!reuse(slot.client, baseUrl, options)) slot.client = build(baseUrl, () => slot.environment?.token, options);
  return slot.client.client;
}
