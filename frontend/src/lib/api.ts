/**
 * The one fetch wrapper every Stateway call goes through.
 *
 * - base URL (empty: relative to the page's origin) and bearer token;
 * - the contract's error body `{"error": {code, message, request_id}}` becomes a
 *   {@link StatewayApiError} with `status`, `code` and `requestId`;
 * - `ETag` / `If-Match` helpers (the API's ETag is the version, quoted: `"7"`);
 * - GET and HEAD are retried on 503 with exponential backoff, a bounded number of
 *   times; no other method is ever retried (a write may have happened);
 * - `fetch` is injectable, so tests can fake the network.
 */

import { StatewayApiError } from './errors';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A token, or a function that returns the current one (e.g. from a refreshing auth library). */
export type TokenSource =
  | string
  | null
  | undefined
  | (() => string | null | undefined | Promise<string | null | undefined>);

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RetryOptions {
  /** Total tries of a GET/HEAD answered 503, the first included (default 3; 1 disables retries). */
  attempts?: number;
  /** Delay before the first retry, in ms (default 100); doubled for each further retry. */
  baseDelayMs?: number;
  /** Upper bound of one delay, in ms (default 2000). */
  maxDelayMs?: number;
}

export interface ClientOptions {
  /** e.g. `https://api.example.com`; empty (default) means relative to the page's origin. */
  baseUrl?: string;
  token?: TokenSource;
  fetch?: FetchLike;
  retry?: RetryOptions;
  /** Injected for tests; defaults to `setTimeout`. */
  sleep?: (ms: number) => Promise<void>;
  /** Injected for tests; jitter source in [0, 1), defaults to `Math.random`. */
  random?: () => number;
}

export type QueryValue = string | number | boolean | null | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  body?: unknown;
  /** A version (`7`) or an ETag (`"7"`); makes a write conditional. */
  ifMatch?: number | string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Send the bearer token (default true; the health route needs none). */
  auth?: boolean;
}

export interface ApiResponse<T> {
  status: number;
  data: T;
  /** The `ETag` header, e.g. `"7"`, or null. */
  etag: string | null;
  /** The version the `ETag` names, or null. */
  version: number | null;
  requestId: string | null;
  headers: Headers;
}

const SAFE_METHODS: ReadonlySet<HttpMethod> = new Set(['GET', 'HEAD']);
const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
const MAX_ATTEMPTS = 10;

/** `7` or `"7"` (or `W/"7"`) as an `If-Match` value: the version, quoted. */
export function formatIfMatch(value: number | string): string {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`If-Match must be a version number, got ${value}.`);
    }
    return `"${value}"`;
  }
  const version = parseEtag(value);
  if (version === null) {
    throw new TypeError(`If-Match must be a version number or its ETag, got ${JSON.stringify(value)}.`);
  }
  return `"${version}"`;
}

/** The version an ETag (`"7"`, `W/"7"`) or a bare version string (`7`) names; null otherwise. */
export function parseEtag(etag: string | null | undefined): number | null {
  if (etag == null) return null;
  const match = /^\s*(?:W\/)?"?([0-9]{1,18})"?\s*$/.exec(etag);
  if (!match?.[1]) return null;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? version : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function defaultFetch(): FetchLike {
  if (typeof globalThis.fetch !== 'function') {
    throw new TypeError('No fetch is available; pass one in the client options.');
  }
  return (input, init) => globalThis.fetch(input, init);
}

/** A client for one API base URL and one token. */
export class StatewayClient {
  readonly baseUrl: string;
  private readonly token: TokenSource;
  private readonly fetchImpl: FetchLike;
  private readonly retry: Required<RetryOptions>;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.token = options.token;
    this.fetchImpl = options.fetch ?? defaultFetch();
    const retry = { ...DEFAULT_RETRY, ...options.retry };
    this.retry = {
      attempts: Math.min(MAX_ATTEMPTS, Math.max(1, Math.floor(retry.attempts))),
      baseDelayMs: Math.max(0, retry.baseDelayMs),
      maxDelayMs: Math.max(0, retry.maxDelayMs),
    };
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** The full URL of `path` (which starts with `/api/`) with `query`. */
  url(path: string, query?: Record<string, QueryValue>): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null) params.append(name, String(value));
    }
    const search = params.toString();
    return `${this.baseUrl}${path}${search ? `?${search}` : ''}`;
  }

  get<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, options);
  }

  put<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('PUT', path, options);
  }

  patch<T>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('PATCH', path, options);
  }

  delete<T = null>(path: string, options?: RequestOptions): Promise<ApiResponse<T>> {
    return this.request<T>('DELETE', path, options);
  }

  /**
   * Send one request and return its parsed JSON body (null for 204).
   *
   * Throws {@link StatewayApiError} for any non-2xx answer (after the retries a GET/HEAD
   * gets on 503), for a network failure (`status` 0, `code` `network_error`) and for a
   * 2xx body that is not JSON (`code` `invalid_response`).
   */
  async request<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = this.url(path, options.query);
    const headers = await this.headers(options);
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    if (options.signal) init.signal = options.signal;

    const attempts = SAFE_METHODS.has(method) ? this.retry.attempts : 1;
    for (let attempt = 1; ; attempt++) {
      const response = await this.send(url, init, options.signal);
      if (response.status === 503 && attempt < attempts) {
        await response.body?.cancel().catch(() => undefined);
        await this.sleep(this.delay(attempt, response.headers.get('retry-after')));
        continue;
      }
      return this.read<T>(response, method);
    }
  }

  private async headers(options: RequestOptions): Promise<Record<string, string>> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.ifMatch !== undefined) headers['If-Match'] = formatIfMatch(options.ifMatch);
    if (options.auth !== false) {
      const token = typeof this.token === 'function' ? await this.token() : this.token;
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    return headers;
  }

  private async send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    try {
      return await this.fetchImpl(url, init);
    } catch (error) {
      if (signal?.aborted) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new StatewayApiError(0, 'network_error', `The API could not be reached: ${reason}`, null, null, {
        cause: error,
      });
    }
  }

  /** Exponential backoff with jitter, bounded by `maxDelayMs`; a `Retry-After` in seconds is honoured up to the bound. */
  private delay(attempt: number, retryAfter: string | null): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exponential * (0.5 + this.random() / 2);
    const serverAsked = retryAfter !== null && /^[0-9]+$/.test(retryAfter.trim()) ? Number(retryAfter) * 1000 : 0;
    return Math.min(this.retry.maxDelayMs, Math.max(jittered, serverAsked));
  }

  private async read<T>(response: Response, method: HttpMethod): Promise<ApiResponse<T>> {
    const requestId = response.headers.get('x-request-id');
    const text = method === 'HEAD' || response.status === 204 ? '' : await response.text();
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
      throw new StatewayApiError(response.status, 'invalid_response', 'The API answered with a body that is not JSON.', requestId, body);
    }
    const etag = response.headers.get('etag');
    return { status: response.status, data: body as T, etag, version: parseEtag(etag), requestId, headers: response.headers };
  }
}

/** The contract's error body as a {@link StatewayApiError}; any other body keeps the status as `http_<status>`. */
export function errorFromResponse(status: number, body: unknown, headerRequestId: string | null): StatewayApiError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  const code = error && typeof error.code === 'string' && error.code ? error.code : `http_${status}`;
  const message =
    error && typeof error.message === 'string' && error.message ? error.message : `The API answered ${status}.`;
  const requestId = error && typeof error.request_id === 'string' ? error.request_id : headerRequestId;
  return new StatewayApiError(status, code, message, requestId, body);
}
