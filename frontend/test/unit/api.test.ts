import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { type ApiData, type ClientOptions, StatewayClient, errorFromResponse, formatIfMatch, ifMatchHeader, parseEtag } from '../../src/lib/api';
import { StatewayApiError } from '../../src/lib/errors';
import type { ProjectSaveResponse, SessionStateResponse, SnapshotPage } from '../../src/lib/types';
import { errorBody, fakeFetch, gatewayReply } from '../support/fakeFetch';

const PROJECT = '/api/project-state/{client_id}/{app_id}/{project_id}' as const;
const SID = 'session:acme:alice:web:p1';

function client(fetch: ReturnType<typeof fakeFetch>, extra: Partial<ClientOptions> = {}) {
  const delays: number[] = [];
  const c = new StatewayClient({
    baseUrl: 'https://api.example.test/',
    token: 'tok',
    fetch,
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 1,
    ...extra,
  });
  return { c, delays };
}

async function rejection(promise: Promise<unknown>): Promise<StatewayApiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StatewayApiError);
    return error as StatewayApiError;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('StatewayClient', () => {
  it('ties each path of the contract to its parameters, body and response (checked by tsc)', () => {
    expectTypeOf<ApiData<'get', '/api/session/state'>>().toEqualTypeOf<SessionStateResponse>();
    expectTypeOf<ApiData<'put', typeof PROJECT>>().toEqualTypeOf<ProjectSaveResponse>();
    expectTypeOf<ApiData<'get', `${typeof PROJECT}/snapshots`>>().toEqualTypeOf<SnapshotPage>();
    expectTypeOf<ApiData<'delete', '/api/session/end'>>().toEqualTypeOf<null>();
    const { c } = client(fakeFetch([{ body: {} }]));
    const misuses = (): unknown[] => [
      // @ts-expect-error: not a path of the contract
      c.get('/api/nope'),
      // @ts-expect-error: session_id is required
      c.get('/api/session/state'),
      // @ts-expect-error: the init body needs the four ids
      c.post('/api/session/init', { body: { client_id: 'a' } }),
      // @ts-expect-error: /api/session/update has no PUT
      c.put('/api/session/update', { body: { session_id: SID, key: 'k', value: 1 } }),
      // @ts-expect-error: a read takes no If-Match
      c.get('/api/session/state', { params: { query: { session_id: SID }, header: { 'If-Match': '"1"' } } }),
      // @ts-expect-error: a project path needs its three ids
      c.get(PROJECT, { params: { path: { client_id: 'a' } } }),
    ];
    expect(misuses).toBeTypeOf('function');
  });

  it('sends the bearer token, JSON body and If-Match to the base URL', async () => {
    const fetch = fakeFetch([{ body: { session_id: SID, state: { navigation: [] }, version: 4 }, headers: { ETag: '"4"', 'X-Request-Id': 'r1' } }]);
    const { c } = client(fetch);
    const response = await c.patch('/api/session/update', {
      body: { session_id: SID, key: 'theme', value: 'dark' },
      params: { header: ifMatchHeader(3) },
    });
    expect(response).toMatchObject({ status: 200, data: { version: 4 }, etag: '"4"', version: 4, requestId: 'r1' });
    const [call] = fetch.calls;
    expect(call?.url).toBe('https://api.example.test/api/session/update');
    expect(call?.method).toBe('PATCH');
    expect(call?.headers).toMatchObject({
      authorization: 'Bearer tok',
      'content-type': 'application/json',
      accept: 'application/json',
      'if-match': '"3"',
    });
    expect(call?.body).toEqual({ session_id: SID, key: 'theme', value: 'dark' });
  });

  it('fills path parameters (ids unencoded) and the query', async () => {
    const fetch = fakeFetch([{ body: { snapshots: [], next: null } }]);
    const { c } = client(fetch);
    await c.get(`${PROJECT}/snapshots`, {
      params: { path: { client_id: 'acme', app_id: 'web.app', project_id: 'p@team' }, query: { limit: 5, before: undefined } },
    });
    await c.get('/api/session/state', { params: { query: { session_id: SID } } });
    expect(fetch.calls.map((call) => call.url)).toEqual([
      'https://api.example.test/api/project-state/acme/web.app/p@team/snapshots?limit=5',
      `https://api.example.test/api/session/state?session_id=${encodeURIComponent(SID)}`,
    ]);
  });

  it('is relative to the page origin without a base URL, and sends no token to the public health route', async () => {
    // A page resolves a relative URL against its origin; Node's Request needs this stand-in.
    const NodeRequest = globalThis.Request;
    vi.stubGlobal(
      'Request',
      class PageRequest extends NodeRequest {
        constructor(input: RequestInfo | URL, init?: RequestInit) {
          super(typeof input === 'string' ? new URL(input, 'http://page.test/inspector/') : input, init);
        }
      },
    );
    const fetch = fakeFetch([{ body: { cache: 'ok', store: 'ok', snapshots: 'ok' } }]);
    const c = new StatewayClient({ fetch, token: 'tok' });
    const health = await c.get('/api/health');
    expect(health.data.store).toBe('ok');
    expect(fetch.calls[0]?.url).toBe('http://page.test/api/health');
    expect(fetch.calls[0]?.headers.authorization).toBeUndefined();
    expect(fetch.calls[0]?.headers['content-type']).toBeUndefined();
  });

  it('asks a token function for the current token on every request', async () => {
    const fetch = fakeFetch([{ body: { namespace: 'namespace:acme:alice', sessions: [] } }]);
    let n = 0;
    const { c } = client(fetch, { token: async () => `t${++n}` });
    await c.get('/api/session/list', { params: { query: { client_id: 'acme' } } });
    await c.get('/api/session/list', { params: { query: { client_id: 'acme' } } });
    expect(fetch.calls.map((call) => call.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('turns the contract error body into a typed error', async () => {
    const fetch = fakeFetch([{ status: 412, body: errorBody('version_mismatch', 'Stale.', 'req-412') }]);
    const { c } = client(fetch);
    const error = await rejection(
      c.put(PROJECT, {
        params: { path: { client_id: 'a', app_id: 'b', project_id: 'c' }, header: ifMatchHeader('"1"') },
        body: { state: {} },
      }),
    );
    expect(error.status).toBe(412);
    expect(error.code).toBe('version_mismatch');
    expect(error.message).toBe('Stale.');
    expect(error.requestId).toBe('req-412');
    expect(error.body).toEqual(errorBody('version_mismatch', 'Stale.', 'req-412'));
    expect(error.name).toBe('StatewayApiError');
  });

  it('throws the same typed error from the openapi-fetch client it exposes', async () => {
    const fetch = fakeFetch([{ status: 403, body: errorBody('forbidden', 'Not yours.', 'req-403') }]);
    const { c } = client(fetch);
    const error = await rejection(c.api.GET('/api/session/list', { params: { query: { client_id: 'other' } } }));
    expect(error).toMatchObject({ status: 403, code: 'forbidden', requestId: 'req-403' });
  });

  it('keeps the status of a body that is not the contract error', async () => {
    const fetch = fakeFetch([{ status: 502, text: '<html>bad gateway</html>', headers: { 'X-Request-Id': 'edge-1' } }]);
    const { c } = client(fetch);
    const error = await rejection(
      c.post('/api/session/init', { body: { client_id: 'a', user_id: 'u', app_id: 'b', project_id: 'c' } }),
    );
    expect(error).toMatchObject({ status: 502, code: 'http_502', requestId: 'edge-1', body: '<html>bad gateway</html>' });
  });

  it('reads the 401 of the authorizer, which has no contract body', async () => {
    const fetch = fakeFetch([gatewayReply(401, 'Unauthorized', 'apigw-401')]);
    const { c } = client(fetch);
    const error = await rejection(c.get('/api/session/list', { params: { query: { client_id: 'acme' } } }));
    expect(error).toMatchObject({
      status: 401,
      code: 'unauthorized',
      message: 'Unauthorized',
      requestId: 'apigw-401',
      body: { message: 'Unauthorized' },
    });
  });

  it("reads API Gateway's 404 of a request no route matches", async () => {
    const fetch = fakeFetch([gatewayReply(404, 'Not Found', 'apigw-404')]);
    const { c } = client(fetch);
    const error = await rejection(c.get(PROJECT, { params: { path: { client_id: 'a', app_id: 'b', project_id: 'c' } } }));
    expect(error).toMatchObject({ status: 404, code: 'not_found', message: 'Not Found', requestId: 'apigw-404' });
  });

  it('reports a network failure as status 0', async () => {
    const fetch = fakeFetch(() => new TypeError('connection refused'));
    const { c } = client(fetch);
    const error = await rejection(c.get('/api/health'));
    expect(error).toMatchObject({ status: 0, code: 'network_error', requestId: null });
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('leaves an abort as it is', async () => {
    const controller = new AbortController();
    controller.abort();
    const fetch = fakeFetch(() => new DOMException('The operation was aborted.', 'AbortError'));
    const { c } = client(fetch);
    await expect(c.get('/api/health', { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects a 2xx body that is not JSON', async () => {
    const { c } = client(fakeFetch([{ status: 200, text: 'not json' }]));
    expect((await rejection(c.get('/api/health'))).code).toBe('invalid_response');
  });

  it('returns null data for 204', async () => {
    const { c } = client(fakeFetch([{ status: 204 }]));
    const response = await c.delete('/api/session/end', { params: { query: { session_id: SID } } });
    expect(response.status).toBe(204);
    expect(response.data).toBeNull();
  });

  it('retries GET on 503 with exponential backoff, then succeeds', async () => {
    const fetch = fakeFetch([
      { status: 503, body: errorBody('store_unavailable') },
      { status: 503, body: errorBody('store_unavailable') },
      { status: 200, body: { session_id: SID, state: { navigation: [] }, version: 1, source: 'store' } },
    ]);
    const { c, delays } = client(fetch, { retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 } });
    const response = await c.get('/api/session/state', { params: { query: { session_id: SID } } });
    expect(response.data.source).toBe('store');
    expect(fetch.calls).toHaveLength(3);
    expect(fetch.calls.map((call) => call.headers.authorization)).toEqual(Array(3).fill('Bearer tok'));
    expect(delays).toEqual([100, 200]);
  });

  it('bounds the attempts and the delay, and then throws the 503', async () => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable', 'Down.', 'req-503') }]);
    const { c, delays } = client(fetch, { retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 } });
    const error = await rejection(c.get('/api/session/state', { params: { query: { session_id: SID } } }));
    expect(error).toMatchObject({ status: 503, code: 'store_unavailable', requestId: 'req-503' });
    expect(fetch.calls).toHaveLength(5);
    expect(delays).toEqual([100, 200, 300, 300]);
  });

  it('tries three times by default, jittering the delay, and never more than ten times', async () => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable') }]);
    const { c, delays } = client(fetch, { random: () => 0 });
    expect((await rejection(c.get('/api/health'))).status).toBe(503);
    expect(fetch.calls).toHaveLength(3);
    expect(delays).toEqual([50, 100]);

    const many = fakeFetch([{ status: 503, body: errorBody('store_unavailable') }]);
    await rejection(client(many, { retry: { attempts: 50 } }).c.get('/api/health'));
    expect(many.calls).toHaveLength(10);
  });

  it('honours a Retry-After in seconds, up to the bound', async () => {
    const fetch = fakeFetch([
      { status: 503, headers: { 'Retry-After': '1' }, body: errorBody('store_unavailable') },
      { status: 503, headers: { 'Retry-After': '60' }, body: errorBody('store_unavailable') },
      { status: 200, body: { cache: 'ok', store: 'ok', snapshots: 'ok' } },
    ]);
    const { c, delays } = client(fetch, { retry: { maxDelayMs: 5000 } });
    await c.get('/api/health');
    expect(delays).toEqual([1000, 5000]);
  });

  it('waits for the Retry-After before sending again (default timer)', async () => {
    vi.useFakeTimers();
    const fetch = fakeFetch([
      { status: 503, headers: { 'Retry-After': '1' }, body: errorBody('store_unavailable') },
      { status: 200, body: { cache: 'ok', store: 'ok', snapshots: 'ok' } },
    ]);
    const c = new StatewayClient({ baseUrl: 'https://api.example.test', fetch, random: () => 0 });
    const pending = c.get('/api/health');
    await vi.advanceTimersByTimeAsync(999);
    expect(fetch.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fetch.calls).toHaveLength(2);
    expect((await pending).data.cache).toBe('ok');
  });

  it('stops waiting when the request is aborted', async () => {
    vi.useFakeTimers();
    const fetch = fakeFetch([{ status: 503, headers: { 'Retry-After': '1' }, body: errorBody('store_unavailable') }]);
    const c = new StatewayClient({ baseUrl: 'https://api.example.test', fetch });
    const controller = new AbortController();
    const pending = c.get('/api/health', { signal: controller.signal });
    const settled = expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await vi.advanceTimersByTimeAsync(10);
    controller.abort();
    await settled;
    expect(fetch.calls).toHaveLength(1);
  });

  it('reports a network failure during the retries as status 0', async () => {
    let n = 0;
    const fetch = fakeFetch(() => (++n === 1 ? { status: 503, body: errorBody('store_unavailable') } : new TypeError('reset')));
    const { c } = client(fetch);
    expect(await rejection(c.get('/api/health'))).toMatchObject({ status: 0, code: 'network_error' });
    expect(fetch.calls).toHaveLength(2);
  });

  const writes = {
    POST: (c: StatewayClient) => c.post('/api/session/init', { body: { client_id: 'a', user_id: 'u', app_id: 'b', project_id: 'c' } }),
    PUT: (c: StatewayClient) =>
      c.put(PROJECT, { params: { path: { client_id: 'a', app_id: 'b', project_id: 'c' } }, body: { state: {} } }),
    PATCH: (c: StatewayClient) => c.patch('/api/session/update', { body: { session_id: SID, navigation: { path: '/' } } }),
    DELETE: (c: StatewayClient) => c.delete('/api/session/end', { params: { query: { session_id: SID } } }),
  };

  it.each(Object.keys(writes) as Array<keyof typeof writes>)('never retries %s', async (method) => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable') }, { status: 200, body: {} }]);
    const { c, delays } = client(fetch);
    expect((await rejection(writes[method](c))).status).toBe(503);
    expect(fetch.calls.map((call) => call.method)).toEqual([method]);
    expect(delays).toEqual([]);
  });

  it('does not retry a GET on other errors', async () => {
    const fetch = fakeFetch([{ status: 500, body: errorBody('internal_error') }, { status: 200, body: {} }]);
    const { c } = client(fetch);
    expect((await rejection(c.get('/api/health'))).code).toBe('internal_error');
    expect(fetch.calls).toHaveLength(1);
  });
});

describe('ETag helpers', () => {
  it('formats If-Match from a version or an ETag', () => {
    expect(formatIfMatch(7)).toBe('"7"');
    expect(formatIfMatch('7')).toBe('"7"');
    expect(formatIfMatch('"7"')).toBe('"7"');
    expect(formatIfMatch('W/"7"')).toBe('"7"');
    expect(() => formatIfMatch(-1)).toThrow(TypeError);
    expect(() => formatIfMatch(1.5)).toThrow(TypeError);
    expect(() => formatIfMatch('abc')).toThrow(TypeError);
    expect(ifMatchHeader(undefined)).toEqual({});
    expect(ifMatchHeader(null)).toEqual({});
    expect(ifMatchHeader(2)).toEqual({ 'If-Match': '"2"' });
  });

  it('parses the version of an ETag', () => {
    expect(parseEtag('"12"')).toBe(12);
    expect(parseEtag('W/"3"')).toBe(3);
    expect(parseEtag('5')).toBe(5);
    expect(parseEtag(null)).toBeNull();
    expect(parseEtag('"abc"')).toBeNull();
  });
});

describe('errorFromResponse', () => {
  it('prefers the body request id over the header', () => {
    expect(errorFromResponse(400, errorBody('invalid_id', 'Bad id.', 'b'), 'h').requestId).toBe('b');
    expect(errorFromResponse(400, { error: { code: 'invalid_id', message: 'x' } }, 'h').requestId).toBe('h');
    expect(errorFromResponse(404, null, null)).toMatchObject({ code: 'http_404', status: 404 });
  });
});
