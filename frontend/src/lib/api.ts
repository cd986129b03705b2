/**
 * The one client every Stateway call goes through: openapi-fetch over the `paths` generated
 * from `openapi.yaml`, so a call names a path of the contract and gets that operation's
 * parameters, body and response types.
 *
 * - base URL (empty: relative to the page's origin) and bearer token;
 * - errors, the 503 retry and the token are openapi-fetch middlewares (`middleware.ts`):
 *   the contract's error body becomes a {@link StatewayApiError} with `status`, `code` and
 *   `requestId`; GET and HEAD are retried on 503, honouring `Retry-After`, a bounded number
 *   of times; no other method is ever retried (a write may have happened);
 * - `ETag` / `If-Match` helpers (the API's ETag is the version, quoted: `"7"`);
 * - `fetch` is injectable, so tests can fake the network.
 */

import createClient, {
  type Client,
  type ClientPathsWithMethod,
  type MaybeOptionalInit,
  type MethodResponse,
} from 'openapi-fetch';
import {
  type RetryOptions,
  type TokenSource,
  authMiddleware,
  errorMiddleware,
  retryMiddleware,
} from './middleware';
import type { paths } from './schema';

export type { RetryOptions, TokenSource } from './middleware';
export { errorFromResponse } from './middleware';

/** What the client calls to send a request (`globalThis.fetch` by default). */
export type FetchLike = (request: Request) => Promise<Response>;

export interface ClientOptions {
  /** e.g. `https://api.example.com`; empty (default) means relative to the page's origin. */
  baseUrl?: string;
  token?: TokenSource;
  fetch?: FetchLike;
  retry?: RetryOptions;
  /** Injected for tests; defaults to `setTimeout`. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Injected for tests; jitter source in [0, 1), defaults to `Math.random`. */
  random?: () => number;
}

/** The openapi-fetch client over the contract's paths, with the Stateway middlewares. */
export type ApiClient = Client<paths>;
export type ApiMethod = 'get' | 'put' | 'post' | 'patch' | 'delete';
/** The contract's paths that have `method`. */
export type ApiPath<M extends ApiMethod> = ClientPathsWithMethod<ApiClient, M>;
/** The options of one operation: `params` (`path`, `query`, `header`), `body`, `signal`, … */
export type ApiInit<M extends ApiMethod, P extends ApiPath<M>> = MaybeOptionalInit<paths[P], M>;
/** The JSON body of one operation's success; null for one without a body (204). */
export type ApiData<M extends ApiMethod, P extends ApiPath<M>> =
  [MethodResponse<ApiClient, M, P>] extends [never] ? null : MethodResponse<ApiClient, M, P>;
/** The init argument, optional exactly when the operation needs no parameter and no body. */
type InitArgs<I> = undefined extends I ? [init?: I] : [init: I];

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

/** The `header` params of a write: `If-Match` when a version (or ETag) is given, else none. */
export function ifMatchHeader(value: number | string | null | undefined): { 'If-Match'?: string } {
  return value === undefined || value === null ? {} : { 'If-Match': formatIfMatch(value) };
}

/** The version an ETag (`"7"`, `W/"7"`) or a bare version string (`7`) names; null otherwise. */
export function parseEtag(etag: string | null | undefined): number | null {
  if (etag == null) return null;
  const match = /^\s*(?:W\/)?"?([0-9]{1,18})"?\s*$/.exec(etag);
  if (!match?.[1]) return null;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? version : null;
}

/**
 * Path parameters as they are, except for what a path segment cannot hold: valid ids
 * (`A-Z a-z 0-9 _ - . @`) go unencoded, so the path the server sees is exactly the ids.
 */
function serializePath(url: string, params: Record<string, unknown>): string {
  return url.replace(/\{([^{}]+)\}/g, (placeholder, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) return placeholder;
    return encodeURIComponent(String(value)).replace(/%40/g, '@');
  });
}

function defaultFetch(): FetchLike {
  if (typeof globalThis.fetch !== 'function') {
    throw new TypeError('No fetch is available; pass one in the client options.');
  }
  return (request) => globalThis.fetch(request);
}

type LooseRequest = (
  method: ApiMethod,
  path: string,
  init?: object,
) => Promise<{ data?: unknown; response: Response }>;

/** A client for one API base URL and one token. */
export class StatewayClient {
  readonly baseUrl: string;
  /**
   * The openapi-fetch client itself, with the same middlewares: for what the methods below do
   * not cover (`client.api.GET(path, { parseAs: 'text' })`, …). It throws the same errors.
   */
  readonly api: ApiClient;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      fetch: options.fetch ?? defaultFetch(),
      headers: { Accept: 'application/json' },
      pathSerializer: serializePath,
    });
    const retry: Parameters<typeof retryMiddleware>[0] = { ...options.retry };
    if (options.sleep) retry.sleep = options.sleep;
    if (options.random) retry.random = options.random;
    // Outermost first: see middleware.ts.
    this.api.use(errorMiddleware(), retryMiddleware(retry), authMiddleware(options.token));
  }

  get<P extends ApiPath<'get'>>(path: P, ...init: InitArgs<ApiInit<'get', P>>): Promise<ApiResponse<ApiData<'get', P>>> {
    return this.request('get', path, ...init);
  }

  post<P extends ApiPath<'post'>>(
    path: P,
    ...init: InitArgs<ApiInit<'post', P>>
  ): Promise<ApiResponse<ApiData<'post', P>>> {
    return this.request('post', path, ...init);
  }

  put<P extends ApiPath<'put'>>(path: P, ...init: InitArgs<ApiInit<'put', P>>): Promise<ApiResponse<ApiData<'put', P>>> {
    return this.request('put', path, ...init);
  }

  patch<P extends ApiPath<'patch'>>(
    path: P,
    ...init: InitArgs<ApiInit<'patch', P>>
  ): Promise<ApiResponse<ApiData<'patch', P>>> {
    return this.request('patch', path, ...init);
  }

  delete<P extends ApiPath<'delete'>>(
    path: P,
    ...init: InitArgs<ApiInit<'delete', P>>
  ): Promise<ApiResponse<ApiData<'delete', P>>> {
    return this.request('delete', path, ...init);
  }

  /**
   * Send one request of the contract and return its parsed JSON body (null for 204).
   *
   * Throws {@link StatewayApiError} for any non-2xx answer (after the retries a GET gets on
   * 503), for a network failure (`status` 0, `code` `network_error`) and for a 2xx body that
   * is not JSON (`code` `invalid_response`).
   */
  async request<M extends ApiMethod, P extends ApiPath<M>>(
    method: M,
    path: P,
    ...init: InitArgs<ApiInit<M, P>>
  ): Promise<ApiResponse<ApiData<M, P>>> {
    // The types above already tie the path to its init; openapi-fetch's own overloads cannot
    // be forwarded generically, so the call itself is made through a looser signature.
    const send = this.api.request as unknown as LooseRequest;
    const { data, response } = await send(method, path, { ...init[0], parseAs: 'json' });
    const etag = response.headers.get('etag');
    return {
      status: response.status,
      data: (data ?? null) as ApiData<M, P>,
      etag,
      version: parseEtag(etag),
      requestId: response.headers.get('x-request-id'),
      headers: response.headers,
    };
  }
}
