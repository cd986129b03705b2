/**
 * Ids and session ids: the same rules as the Python layer's `stateway/ids.py`.
 *
 * Both are checked against the shared vectors in `tests/vectors/ids.json`.
 */

import { InvalidIdError, InvalidKeyError } from './errors';

export const ID_MAX_LENGTH = 128;
export const KEY_MAX_LENGTH = 64;

/** 1-128 characters of A-Z a-z 0-9 _ - . @, not starting with "." */
export const ID_PATTERN = /^[A-Za-z0-9_\-@][A-Za-z0-9_\-.@]{0,127}$/;
/** 1-64 characters of A-Z a-z 0-9 _ -, not starting with a digit or "-" */
export const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

const SESSION_PREFIX = 'session';
const NAMESPACE_PREFIX = 'namespace';

/** The four ids that name one user session. */
export interface SessionRef {
  clientId: string;
  userId: string;
  appId: string;
  projectId: string;
}

/** The three ids that name one project's state. */
export interface ProjectRef {
  clientId: string;
  appId: string;
  projectId: string;
}

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

export function isValidKey(value: unknown): value is string {
  return typeof value === 'string' && KEY_PATTERN.test(value);
}

/** Return `value` if it is a valid id; throw {@link InvalidIdError} naming `name`. */
export function validateId(name: string, value: unknown): string {
  if (!isValidId(value)) {
    throw new InvalidIdError(
      `${name} must be 1 to ${ID_MAX_LENGTH} characters of A-Z a-z 0-9 _ - . @, not starting with '.'.`,
    );
  }
  return value;
}

/** Return `value` if it is a valid top-level state key; throw {@link InvalidKeyError}. */
export function validateKey(value: unknown): string {
  if (!isValidKey(value)) {
    throw new InvalidKeyError(
      `key must be 1 to ${KEY_MAX_LENGTH} characters of A-Z a-z 0-9 _ -, not starting with a digit or '-'.`,
    );
  }
  return value;
}

/** Validate the four ids and return them as a {@link SessionRef}. */
export function sessionRef(clientId: unknown, userId: unknown, appId: unknown, projectId: unknown): SessionRef {
  return {
    clientId: validateId('client_id', clientId),
    userId: validateId('user_id', userId),
    appId: validateId('app_id', appId),
    projectId: validateId('project_id', projectId),
  };
}

/** Validate the three ids and return them as a {@link ProjectRef}. */
export function projectRef(clientId: unknown, appId: unknown, projectId: unknown): ProjectRef {
  return {
    clientId: validateId('client_id', clientId),
    appId: validateId('app_id', appId),
    projectId: validateId('project_id', projectId),
  };
}

/** `session:<client_id>:<user_id>:<app_id>:<project_id>`, ids validated. */
export function buildSessionId(ref: SessionRef): string {
  const { clientId, userId, appId, projectId } = sessionRef(ref.clientId, ref.userId, ref.appId, ref.projectId);
  return `${SESSION_PREFIX}:${clientId}:${userId}:${appId}:${projectId}`;
}

/** `namespace:<client_id>:<user_id>`: the set of one user's sessions within a client. */
export function buildNamespace(clientId: string, userId: string): string {
  return `${NAMESPACE_PREFIX}:${validateId('client_id', clientId)}:${validateId('user_id', userId)}`;
}

/** Parse a session id; throw {@link InvalidIdError} unless it is exactly the contract's form. */
export function parseSessionId(value: unknown): SessionRef {
  if (typeof value !== 'string') {
    throw new InvalidIdError('session_id is required.');
  }
  const parts = value.split(':');
  if (parts.length !== 5 || parts[0] !== SESSION_PREFIX) {
    throw new InvalidIdError('session_id must be session:<client_id>:<user_id>:<app_id>:<project_id>.');
  }
  return sessionRef(parts[1], parts[2], parts[3], parts[4]);
}
