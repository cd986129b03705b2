import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidIdError, InvalidKeyError } from '../../src/lib/errors';
import {
  buildNamespace,
  buildSessionId,
  isValidId,
  parseSessionId,
  sessionRef,
  validateId,
  validateKey,
} from '../../src/lib/ids';

// The same vectors the Python layer is tested against (tests/unit/test_vectors.py).
interface Vectors {
  sessions: Array<{
    client_id: string;
    user_id: string;
    app_id: string;
    project_id: string;
    session_id: string;
    namespace: string;
  }>;
  valid_ids: string[];
  invalid_ids: Array<{ value: unknown; why: string }>;
  valid_keys: string[];
  invalid_keys: Array<{ value: unknown; why: string }>;
  invalid_session_ids: Array<{ value: unknown; why: string }>;
}

const vectors = JSON.parse(readFileSync(new URL('../../../tests/vectors/ids.json', import.meta.url), 'utf8')) as Vectors;
const label = (value: unknown): string => JSON.stringify(value)?.slice(0, 40) ?? String(value);

describe('shared id vectors', () => {
  it.each(vectors.sessions.map((c) => [c.session_id.slice(0, 50), c] as const))('builds %s', (_, c) => {
    const ref = { clientId: c.client_id, userId: c.user_id, appId: c.app_id, projectId: c.project_id };
    expect(buildSessionId(ref)).toBe(c.session_id);
    expect(buildNamespace(c.client_id, c.user_id)).toBe(c.namespace);
    expect(parseSessionId(c.session_id)).toEqual(ref);
  });

  it.each(vectors.valid_ids.map((v) => [label(v), v] as const))('accepts the id %s', (_, value) => {
    expect(validateId('client_id', value)).toBe(value);
    expect(isValidId(value)).toBe(true);
    expect(sessionRef(value, 'u', 'a', 'p').clientId).toBe(value);
    expect(sessionRef('c', 'u', 'a', value).projectId).toBe(value);
  });

  it.each(vectors.invalid_ids.map((c) => [`${c.why} ${label(c.value)}`, c.value] as const))(
    'rejects the id %s',
    (_, value) => {
      expect(isValidId(value)).toBe(false);
      expect(() => validateId('app_id', value)).toThrow(InvalidIdError);
      expect(() => sessionRef('c', value, 'a', 'p')).toThrow(InvalidIdError);
      expect(() => buildNamespace('c', value as string)).toThrow(InvalidIdError);
      expect(() => buildSessionId({ clientId: 'c', userId: 'u', appId: value as string, projectId: 'p' })).toThrow(
        InvalidIdError,
      );
    },
  );

  it.each(vectors.valid_keys.map((v) => [label(v), v] as const))('accepts the key %s', (_, value) => {
    expect(validateKey(value)).toBe(value);
  });

  it.each(vectors.invalid_keys.map((c) => [`${c.why} ${label(c.value)}`, c.value] as const))(
    'rejects the key %s',
    (_, value) => {
      expect(() => validateKey(value)).toThrow(InvalidKeyError);
    },
  );

  it.each(vectors.invalid_session_ids.map((c) => [`${c.why} ${label(c.value)}`, c.value] as const))(
    'rejects the session id %s',
    (_, value) => {
      expect(() => parseSessionId(value)).toThrow(InvalidIdError);
    },
  );

  it('reports the code the API would answer', () => {
    try {
      validateId('client_id', '.x');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidIdError);
      expect((error as InvalidIdError).code).toBe('invalid_id');
    }
  });
});
