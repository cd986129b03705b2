/** Errors raised by the Stateway client. */

import type { components } from './schema';

/** Every error code the API answers with (from `openapi.yaml`). */
export type ApiErrorCode = components['schemas']['ErrorCode'];

/** Base class: every error the client throws on purpose has a stable snake_case `code`. */
export class StatewayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * The API answered with an error (or could not be reached).
 *
 * `status` is the HTTP status (0 when no response arrived), `code` the contract's
 * error code (`network_error` / `http_<status>` when the body is not the contract's; for
 * API Gateway's own `{"message": ...}` answers, the code of their status: `unauthorized`
 * for 401, `not_found` for 404, `internal_error` for 500, `unavailable` for 503),
 * `requestId` the id the server logs carry (`X-Request-Id`; API Gateway's
 * `apigw-requestid` on its own answers).
 */
export class StatewayApiError extends StatewayError {
  readonly status: number;
  readonly requestId: string | null;
  readonly body: unknown;

  constructor(
    status: number,
    code: ApiErrorCode | (string & {}),
    message: string,
    requestId: string | null,
    body: unknown = null,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.status = status;
    this.requestId = requestId;
    this.body = body;
  }
}

/** An id is not 1-128 of `A-Z a-z 0-9 _ - . @` not starting with `.` (the API would answer 400 `invalid_id`). */
export class InvalidIdError extends StatewayError {
  constructor(message: string) {
    super('invalid_id', message);
  }
}

/** A state key is not valid (the API would answer 400 `invalid_key`). */
export class InvalidKeyError extends StatewayError {
  constructor(message: string) {
    super('invalid_key', message);
  }
}

/** No stored environment: the app has not logged in (or logged out). */
export class MissingEnvironmentError extends StatewayError {
  constructor(message = 'No Stateway environment is stored; log in first.') {
    super('missing_environment', message);
  }
}
