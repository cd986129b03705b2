import { describe, expect, it } from 'vitest';
import { StatewayClient, errorFromResponse, formatIfMatch, parseEtag } from '../../src/lib/api';
import { StatewayApiError } from '../../src/lib/errors';
import { errorBody, fakeFetch } from '../support/fakeFetch';

function client(fetch: ReturnType<typeof fakeFetch>, extra: Partial<ConstructorParameters<typeof StatewayClient>[0]> = {}) {
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

describe('StatewayClient', () => {
  it('sends the bearer token, JSON body and query to the base URL', async () => {
    const fetch = fakeFetch([{ body: { ok: true }, headers: { ETag: '"4"', 'X-Request-Id': 'r1' } }]);
    const { c } = client(fetch);
    const response = await c.patch<{ ok: boolean }>('/api/session/update', {
      body: { a: 1 },
      query: { x: 'a b', skip: undefined, none: null, n: 2 },
      ifMatch: 3,
    });
    expect(response).toMatchObject({ status: 200, data: { ok: true }, etag: '"4"', version: 4, requestId: 'r1' });
    const [call] = fetch.calls;
    expect(call?.url).toBe('https://api.example.test/api/session/update?x=a+b&n=2');
    expect(call?.method).toBe('PATCH');
    expect(call?.headers).toMatchObject({
      authorization: 'Bearer tok',
      'content-type': 'application/json',
      accept: 'application/json',
      'if-match': '"3"',
    });
    expect(call?.body).toEqual({ a: 1 });
  });

  it('is relative to the page origin without a base URL, and sends no token when asked not to', async () => {
    const fetch = fakeFetch([{ body: { cache: 'ok', store: 'ok', snapshots: 'ok' } }]);
    const c = new StatewayClient({ fetch, token: 'tok' });
    await c.get('/api/health', { auth: false });
    expect(fetch.calls[0]?.url).toBe('/api/health');
    expect(fetch.calls[0]?.headers.authorization).toBeUndefined();
    expect(fetch.calls[0]?.headers['content-type']).toBeUndefined();
  });

  it('asks a token function for the current token on every request', async () => {
    const fetch = fakeFetch([{ body: {} }]);
    let n = 0;
    const { c } = client(fetch, { token: async () => `t${++n}` });
    await c.get('/api/x');
    await c.get('/api/x');
    expect(fetch.calls.map((call) => call.headers.authorization)).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('turns the contract error body into a typed error', async () => {
    const fetch = fakeFetch([{ status: 412, body: errorBody('version_mismatch', 'Stale.', 'req-412') }]);
    const { c } = client(fetch);
    const error = await rejection(c.put('/api/project-state/a/b/c', { body: { state: {} }, ifMatch: '"1"' }));
    expect(error.status).toBe(412);
    expect(error.code).toBe('version_mismatch');
    expect(error.message).toBe('Stale.');
    expect(error.requestId).toBe('req-412');
    expect(error.name).toBe('StatewayApiError');
  });

  it('keeps the status of a body that is not the contract error', async () => {
    const fetch = fakeFetch([{ status: 502, text: '<html>bad gateway</html>', headers: { 'X-Request-Id': 'edge-1' } }]);
    const { c } = client(fetch);
    const error = await rejection(c.post('/api/session/init', { body: {} }));
    expect(error).toMatchObject({ status: 502, code: 'http_502', requestId: 'edge-1' });
  });

  it('reports a network failure as status 0', async () => {
    const fetch = fakeFetch(() => new TypeError('connection refused'));
    const { c } = client(fetch);
    const error = await rejection(c.get('/api/health'));
    expect(error).toMatchObject({ status: 0, code: 'network_error', requestId: null });
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('rejects a 2xx body that is not JSON', async () => {
    const { c } = client(fakeFetch([{ status: 200, text: 'not json' }]));
    expect((await rejection(c.get('/api/x'))).code).toBe('invalid_response');
  });

  it('returns null data for 204', async () => {
    const { c } = client(fakeFetch([{ status: 204 }]));
    const response = await c.delete('/api/session/end', { query: { session_id: 'session:a:b:c:d' } });
    expect(response.status).toBe(204);
    expect(response.data).toBeNull();
  });

  it('retries GET on 503 with exponential backoff, then succeeds', async () => {
    const fetch = fakeFetch([
      { status: 503, body: errorBody('store_unavailable') },
      { status: 503, body: errorBody('store_unavailable') },
      { status: 200, body: { fine: 1 } },
    ]);
    const { c, delays } = client(fetch, { retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 } });
    const response = await c.get<{ fine: number }>('/api/session/state');
    expect(response.data.fine).toBe(1);
    expect(fetch.calls).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
  });

  it('bounds the attempts and the delay, and then throws the 503', async () => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable', 'Down.', 'req-503') }]);
    const { c, delays } = client(fetch, { retry: { attempts: 5, baseDelayMs: 100, maxDelayMs: 300 } });
    const error = await rejection(c.get('/api/x'));
    expect(error).toMatchObject({ status: 503, code: 'store_unavailable', requestId: 'req-503' });
    expect(fetch.calls).toHaveLength(5);
    expect(delays).toEqual([100, 200, 300, 300]);
  });

  it('retries HEAD too, with three attempts by default, and jitters the delay', async () => {
    const fetch = fakeFetch([{ status: 503 }]);
    const { c, delays } = client(fetch, { random: () => 0 });
    expect((await rejection(c.request('HEAD', '/api/health'))).status).toBe(503);
    expect(fetch.calls).toHaveLength(3);
    expect(delays).toEqual([50, 100]);
  });

  it('honours a Retry-After in seconds, up to the bound', async () => {
    const fetch = fakeFetch([
      { status: 503, headers: { 'Retry-After': '1' }, body: errorBody('unavailable') },
      { status: 200, body: {} },
    ]);
    const { c, delays } = client(fetch, { retry: { maxDelayMs: 5000 } });
    await c.get('/api/x');
    expect(delays).toEqual([1000]);
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'] as const)('never retries %s', async (method) => {
    const fetch = fakeFetch([{ status: 503, body: errorBody('store_unavailable') }, { status: 200, body: {} }]);
    const { c, delays } = client(fetch);
    expect((await rejection(c.request(method, '/api/x', { body: {} }))).status).toBe(503);
    expect(fetch.calls).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('does not retry a GET on other errors', async () => {
    const fetch = fakeFetch([{ status: 500, body: errorBody('internal_error') }, { status: 200, body: {} }]);
    const { c } = client(fetch);
    expect((await rejection(c.get('/api/x'))).code).toBe('internal_error');
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
