/**
 * The openapi-fetch middlewares every Stateway call goes through, outermost first:
 *
 * 1. {@link errorMiddleware}: a non-2xx answer becomes a {@link StatewayApiError} (the
 *    contract's `{"error": {code, message, request_id}}`, or API Gateway's own
 *    `{"message": ...}`), so does a network failure (`status` 0, `network_error`) and a 2xx
 *    body that is not JSON (`invalid_response`);
 * 2. {@link retryMiddleware}: GET and HEAD answered 503 are sent again, a bounded number of
 *    times, after an exponential backoff or the server's `Retry-After`; no other method is
 *    ever retried (a write may have happened);
 * 3. {@link authMiddleware}: the bearer token, asked for on every request.
 *
 * openapi-fetch runs `onRequest` in the order the middlewares were registered and
 * `onResponse` in the reverse order, so the retry sees a 503 before it becomes an error.
 */

import type { Middleware } from 'openapi-fetch';
import { type ApiErrorCode, StatewayApiError } from './errors';
import type { components, paths } from './schema';

/** A token, or a function that returns the current one (e.g. from a refreshing auth library). */
export type TokenSource =
  | string
  | null
  | undefined
  | (() => string | null | undefined | Promise<string | null | undefined>);

export interface RetryOptions {
  /** Total tries of a GET/HEAD answered 503, the first included (default 3; 1 disables retries; at most 10). */
  attempts?: number;
  /** Delay before the first retry, in ms (default 100); doubled for each further retry. */
  baseDelayMs?: number;
  /** Upper bound of one delay, in ms (default 2000); a longer `Retry-After` is cut to it. */
  maxDelayMs?: number;
}

export interface RetryMiddlewareOptions extends RetryOptions {
  /** Injected for tests; defaults to `setTimeout`, cut short when the request is aborted. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected for tests; jitter source in [0, 1), defaults to `Math.random`. */
  random?: () => number;
}

/** The operations the contract marks `security: []`: they are sent without a token. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set<keyof paths>(['/api/health']);

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);
const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
const MAX_ATTEMPTS = 10;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The codes of API Gateway's own answers, which carry no code (`GatewayMessage`): its JWT
 * authorizer's 401, the 404 of a request no route matches, and the 500 and 503 of a function
 * that failed or did not answer in time.
 */
export const GATEWAY_CODES: Readonly<Partial<Record<number, ApiErrorCode>>> = {
  401: 'unauthorized',
  404: 'not_found',
  500: 'internal_error',
  503: 'unavailable',
};

type GatewayMessage = components['schemas']['GatewayMessage'];

/** API Gateway's own body: `{"message": "..."}`, not the contract's error body. */
function isGatewayMessage(body: unknown): body is GatewayMessage {
  return isRecord(body) && typeof body.message === 'string' && !('error' in body);
}

/**
 * A non-2xx answer as a {@link StatewayApiError}: the contract's error body as it is; API
 * Gateway's `{"message": ...}` with the code its status stands for ({@link GATEWAY_CODES},
 * else `http_<status>`) and its message; any other body keeps the status as `http_<status>`.
 * `headerRequestId` is the response's `X-Request-Id`, or API Gateway's `apigw-requestid`.
 */
export function errorFromResponse(status: number, body: unknown, headerRequestId: string | null): StatewayApiError {
  if (isGatewayMessage(body)) {
    const code = GATEWAY_CODES[status] ?? `http_${status}`;
    const message = body.message || `The API answered ${status}.`;
    return new StatewayApiError(status, code, message, headerRequestId, body);
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  const code = error && typeof error.code === 'string' && error.code ? error.code : `http_${status}`;
  const message =
    error && typeof error.message === 'string' && error.message ? error.message : `The API answered ${status}.`;
  const requestId = error && typeof error.request_id === 'string' ? error.request_id : headerRequestId;
  return new StatewayApiError(status, code, message, requestId, body);
}

/** A failed fetch as a `network_error`; an abort is left as it is (the caller asked for it). */
function networkError(error: unknown, signal: AbortSignal | null): StatewayApiError | undefined {
  if (signal?.aborted || error instanceof StatewayApiError) return undefined;
  const reason = error instanceof Error ? error.message : String(error);
  return new StatewayApiError(0, 'network_error', `The API could not be reached: ${reason}`, null, null, {
    cause: error,
  });
}

/** Turns every answer the caller should not treat as data into a {@link StatewayApiError}. */
export function errorMiddleware(): Middleware {
  return {
    async onResponse({ request, response }) {
      // A function's answer names the request in X-Request-Id; API Gateway's own ones in apigw-requestid.
      const requestId = response.headers.get('x-request-id') ?? response.headers.get('apigw-requestid');
      if (request.method === 'HEAD' || response.status === 204) {
        if (response.ok) return undefined;
        throw errorFromResponse(response.status, null, requestId);
      }
      const text = await response.text();
      let body: unknown = null;
      let parsed = true;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch {
          parsed = false;
          body = text;
        }
      }
      if (!response.ok) throw errorFromResponse(response.status, body, requestId);
      if (!parsed) {
        throw new StatewayApiError(
          response.status,
          'invalid_response',
          'The API answered with a body that is not JSON.',
          requestId,
          body,
        );
      }
      // The body was read to check it; hand on an unread copy for openapi-fetch to parse.
      return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
    onError({ request, error }) {
      return networkError(error, request.signal);
    },
  };
}

/** Sends `Authorization: Bearer <token>` unless the operation is public or the caller set one. */
export function authMiddleware(token: TokenSource, publicPaths: ReadonlySet<string> = PUBLIC_PATHS): Middleware {
  return {
    async onRequest({ request, schemaPath }) {
      if (publicPaths.has(schemaPath) || request.headers.has('authorization')) return undefined;
      const value = typeof token === 'function' ? await token() : token;
      if (value) request.headers.set('Authorization', `Bearer ${value}`);
      return request;
    },
  };
}

/** The options with their defaults, attempts clamped to 1..10 and delays to >= 0. */
export function retryPolicy(options: RetryOptions = {}): Required<RetryOptions> {
  const retry = { ...DEFAULT_RETRY, ...options };
  return {
    attempts: Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(retry.attempts))),
    baseDelayMs: Math.max(0, retry.baseDelayMs),
    maxDelayMs: Math.max(0, retry.maxDelayMs),
  };
}

/** A `Retry-After` (delay in seconds, or an HTTP date) in ms from `now`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * The wait before retry number `attempt` (1 is the first retry): the exponential backoff with
 * jitter, or the server's `Retry-After` when that is longer, never more than `maxDelayMs`.
 */
export function retryDelay(
  policy: Required<RetryOptions>,
  attempt: number,
  retryAfter: string | null,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exponential * (0.5 + random() / 2);
  const serverAsked = parseRetryAfter(retryAfter) ?? 0;
  return Math.min(policy.maxDelayMs, Math.max(jittered, serverAsked));
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sends a GET or HEAD answered 503 again, up to `attempts` tries in all; hands on the last answer. */
export function retryMiddleware(options: RetryMiddlewareOptions = {}): Middleware {
  const policy = retryPolicy(options);
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  return {
    async onResponse({ request, response, options: { fetch } }) {
      if (response.status !== 503 || !SAFE_METHODS.has(request.method)) return undefined;
      let current = response;
      for (let attempt = 1; current.status === 503 && attempt < policy.attempts; attempt++) {
        const wait = retryDelay(policy, attempt, current.headers.get('retry-after'), random);
        await current.body?.cancel().catch(() => undefined);
        await sleep(wait, request.signal);
        try {
          // A GET or HEAD has no body, so the request can be sent again as it is.
          current = await fetch(request.clone());
        } catch (error) {
          throw networkError(error, request.signal) ?? error;
        }
      }
      return current;
    },
  };
}
