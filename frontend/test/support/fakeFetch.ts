import type { FetchLike } from '../../src/lib/api';

export interface RecordedCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeReply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Send this text as the body instead of JSON. */
  text?: string;
  /** The X-Request-Id sent (default `req-fake`); null sends none, as API Gateway's own answers. */
  requestId?: string | null;
}

/**
 * A fetch that answers from a queue of replies (or a function) and records every call.
 * The last reply is reused once the queue is down to one.
 */
export function fakeFetch(replies: FakeReply[] | ((call: RecordedCall) => FakeReply | Error)): FetchLike & {
  calls: RecordedCall[];
} {
  const calls: RecordedCall[] = [];
  const queue = Array.isArray(replies) ? [...replies] : null;
  const fetch = async (request: Request): Promise<Response> => {
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const sent = await request.text();
    const call: RecordedCall = {
      url: request.url,
      method: request.method,
      headers,
      body: sent === '' ? undefined : JSON.parse(sent),
    };
    calls.push(call);
    const reply = queue ? (queue.length > 1 ? queue.shift() : queue[0]) : (replies as (c: RecordedCall) => FakeReply | Error)(call);
    if (reply === undefined) throw new Error('fakeFetch has no reply queued');
    if (reply instanceof Error) throw reply;
    const status = reply.status ?? 200;
    const noBody = status === 204 || status === 304;
    const text = noBody ? null : (reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body)));
    const requestId = reply.requestId === undefined ? 'req-fake' : reply.requestId;
    return new Response(text, {
      status,
      headers: {
        'Content-Type': 'application/json',
        ...(requestId === null ? {} : { 'X-Request-Id': requestId }),
        ...reply.headers,
      },
    });
  };
  return Object.assign(fetch, { calls });
}

/** The contract's error body. */
export function errorBody(code: string, message = 'Refused.', requestId = 'req-err'): FakeReply['body'] {
  return { error: { code, message, request_id: requestId } };
}

/** API Gateway's own answer (its authorizer's 401, a route miss, a failed function): no error body, no X-Request-Id. */
export function gatewayReply(status: number, message: string, requestId = 'apigw-1'): FakeReply {
  return { status, body: { message }, requestId: null, headers: { 'apigw-requestid': requestId } };
}
