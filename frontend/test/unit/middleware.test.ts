import type { MergedOptions, Middleware } from 'openapi-fetch';
import { describe, expect, it } from 'vitest';
import { StatewayApiError } from '../../src/lib/errors';
import {
  GATEWAY_CODES,
  errorFromResponse,
  errorMiddleware,
  parseRetryAfter,
  retryDelay,
  retryMiddleware,
  retryPolicy,
} from '../../src/lib/middleware';

/** Run one middleware's onResponse the way openapi-fetch does, with `fetch` for the retries. */
function onResponse(middleware: Middleware, request: Request, response: Response, fetch: (r: Request) => Promise<Response>) {
  if (!middleware.onResponse) throw new Error('no onResponse');
  return middleware.onResponse({
    request,
    response,
    schemaPath: '/api/health',
    params: {},
    id: 'test',
    options: { fetch } as unknown as MergedOptions,
  });
}

const unavailable = (headers: Record<string, string> = {}) => new Response('{}', { status: 503, headers });

describe('retryMiddleware', () => {
  it('retries HEAD like GET, and hands on the last answer', async () => {
    const sent: string[] = [];
    const delays: number[] = [];
    const middleware = retryMiddleware({ attempts: 3, sleep: async (ms) => void delays.push(ms), random: () => 1 });
    const request = new Request('https://api.example.test/api/health', { method: 'HEAD' });
    const last = await onResponse(middleware, request, unavailable(), async (r) => {
      sent.push(r.method);
      return sent.length === 1 ? unavailable() : new Response(null, { status: 200 });
    });
    expect(sent).toEqual(['HEAD', 'HEAD']);
    expect(delays).toEqual([100, 200]);
    expect(last?.status).toBe(200);
  });

  it('leaves other answers and other methods alone', async () => {
    const middleware = retryMiddleware({ sleep: async () => undefined });
    const fetch = async (): Promise<Response> => {
      throw new Error('must not send again');
    };
    const get = new Request('https://api.example.test/api/health');
    expect(await onResponse(middleware, get, new Response('{}', { status: 500 }), fetch)).toBeUndefined();
    const post = new Request('https://api.example.test/api/session/init', { method: 'POST', body: '{}' });
    expect(await onResponse(middleware, post, unavailable(), fetch)).toBeUndefined();
  });

  it('with one attempt, hands on the 503 without waiting', async () => {
    const middleware = retryMiddleware({
      attempts: 1,
      sleep: async () => {
        throw new Error('must not wait');
      },
    });
    const response = unavailable();
    const fetch = async (): Promise<Response> => {
      throw new Error('must not send again');
    };
    expect(await onResponse(middleware, new Request('https://api.example.test/api/health'), response, fetch)).toBe(response);
  });
});

describe('the retry policy', () => {
  it('clamps attempts to 1..10 and delays to >= 0', () => {
    expect(retryPolicy()).toEqual({ attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 });
    expect(retryPolicy({ attempts: 0, baseDelayMs: -5, maxDelayMs: -1 })).toEqual({ attempts: 1, baseDelayMs: 0, maxDelayMs: 0 });
    expect(retryPolicy({ attempts: 99.7 }).attempts).toBe(10);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-24T12:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Tue, 24 Nov 2026 12:00:02 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
  });

  it('waits the longer of the backoff and Retry-After, never more than the bound', () => {
    const policy = retryPolicy({ baseDelayMs: 100, maxDelayMs: 1500 });
    expect(retryDelay(policy, 1, null, () => 1)).toBe(100);
    expect(retryDelay(policy, 3, null, () => 0)).toBe(200);
    expect(retryDelay(policy, 1, '1', () => 1)).toBe(1000);
    expect(retryDelay(policy, 1, '120', () => 1)).toBe(1500);
  });
});

/** What errorMiddleware throws for the response (it must throw). */
async function thrown(response: Response, method = 'GET'): Promise<StatewayApiError> {
  const request = new Request('https://api.example.test/api/session/list?client_id=acme', { method });
  const fetch = async (): Promise<Response> => {
    throw new Error('must not send again');
  };
  try {
    await onResponse(errorMiddleware(), request, response, fetch);
  } catch (error) {
    expect(error).toBeInstanceOf(StatewayApiError);
    return error as StatewayApiError;
  }
  throw new Error('errorMiddleware did not throw');
}

/** API Gateway's own answer: `{"message": ...}`, apigw-requestid, no X-Request-Id. */
const gateway = (status: number, message: string, id = 'apigw-1') =>
  new Response(JSON.stringify({ message }), {
    status,
    headers: { 'Content-Type': 'application/json', 'apigw-requestid': id },
  });

describe("API Gateway's own answers", () => {
  it.each([
    [401, 'Unauthorized', 'unauthorized'],
    [404, 'Not Found', 'not_found'],
    [500, 'Internal Server Error', 'internal_error'],
    [503, 'Service Unavailable', 'unavailable'],
  ])('%i {"message": "%s"} is the typed error %s, named by apigw-requestid', async (status, message, code) => {
    const error = await thrown(gateway(status, message, `apigw-${status}`));
    expect(error).toMatchObject({ status, code, message, requestId: `apigw-${status}`, body: { message } });
    expect(GATEWAY_CODES[status]).toBe(code);
  });

  it('keeps the status of a gateway message it has no code for', async () => {
    const error = await thrown(gateway(429, 'Too Many Requests'));
    expect(error).toMatchObject({ status: 429, code: 'http_429', message: 'Too Many Requests', requestId: 'apigw-1' });
  });

  it('reads a HEAD refusal, which has no body, by its status', async () => {
    const response = new Response(null, { status: 401, headers: { 'apigw-requestid': 'apigw-head' } });
    expect(await thrown(response, 'HEAD')).toMatchObject({ status: 401, code: 'http_401', requestId: 'apigw-head' });
  });

  it("prefers a function's request id: the error body's, then X-Request-Id", async () => {
    const body = { error: { code: 'forbidden', message: 'Not yours.', request_id: 'in-body' } };
    const both = { 'Content-Type': 'application/json', 'X-Request-Id': 'x-req', 'apigw-requestid': 'apigw-1' };
    const fromBody = await thrown(new Response(JSON.stringify(body), { status: 403, headers: both }));
    expect(fromBody).toMatchObject({ code: 'forbidden', message: 'Not yours.', requestId: 'in-body' });
    const withoutId = { error: { code: 'unauthorized', message: 'A valid bearer token is required.' } };
    const fromHeader = await thrown(new Response(JSON.stringify(withoutId), { status: 401, headers: both }));
    expect(fromHeader).toMatchObject({ code: 'unauthorized', requestId: 'x-req' });
  });
});

describe('errorFromResponse', () => {
  it('reads a message body as a gateway answer only when it is not the error body', () => {
    expect(errorFromResponse(401, { message: 'Unauthorized' }, 'h')).toMatchObject({
      code: 'unauthorized',
      message: 'Unauthorized',
      requestId: 'h',
    });
    expect(errorFromResponse(404, { message: '' }, null)).toMatchObject({ code: 'not_found', message: 'The API answered 404.' });
    const both = { message: 'outer', error: { code: 'session_not_found', message: 'No session.', request_id: 'r' } };
    expect(errorFromResponse(404, both, 'h')).toMatchObject({ code: 'session_not_found', message: 'No session.', requestId: 'r' });
    expect(errorFromResponse(401, { message: 7 }, 'h')).toMatchObject({ code: 'http_401', message: 'The API answered 401.' });
    expect(errorFromResponse(401, 'Unauthorized', 'h')).toMatchObject({ code: 'http_401' });
  });
});
