"""One error hierarchy for Stateway.

Every error that can reach a client carries its HTTP ``status`` and a stable
snake_case ``code``. The ``message`` is always text written here, never the
text of a library exception: causes are kept with ``raise ... from exc`` and
go to the logs, not to the response.
"""

from __future__ import annotations


class StatewayError(Exception):
    """Base of every error Stateway raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    default_message: str = "The request failed."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


def error_body(code: str, message: str, request_id: str) -> dict[str, dict[str, str]]:
    """The contract's error body: ``{"error": {"code", "message", "request_id"}}``."""
    return {"error": {"code": code, "message": message, "request_id": request_id}}


class BackendBug(StatewayError):
    """A tier answered with an error that is a bug, not an outage.

    A script error, ``WRONGTYPE``, ``CROSSSLOT``, an operator the store does
    not know, a failed validation: retrying will not help, so it is never
    reported as "unavailable" and never read as a cache miss. It answers a
    generic 500 and is logged with its traceback.
    """


class CacheBug(BackendBug):
    default_message = "The cache refused a command."


class StoreBug(BackendBug):
    default_message = "The durable store refused a command."


class ConfigError(StatewayError):
    """A setting is missing or malformed; raised at cold start."""

    code = "configuration_error"
    default_message = "The service is misconfigured."


# 400 -------------------------------------------------------------------------


class InvalidRequest(StatewayError):
    status = 400
    code = "invalid_request"
    default_message = "The request is not valid."


class InvalidJson(InvalidRequest):
    code = "invalid_json"
    default_message = "The body is not valid JSON."


class InvalidId(InvalidRequest):
    code = "invalid_id"
    default_message = "An id is not valid."


class InvalidKey(InvalidRequest):
    code = "invalid_key"
    default_message = "The state key is not valid."


class InvalidState(InvalidRequest):
    code = "invalid_state"
    default_message = "The state document cannot be stored."


# 401 / 403 -------------------------------------------------------------------


class Unauthorized(StatewayError):
    status = 401
    code = "unauthorized"
    default_message = "A valid bearer token is required."


class Forbidden(StatewayError):
    status = 403
    code = "forbidden"
    default_message = "The token does not grant access to this resource."


# 404 -------------------------------------------------------------------------


class NotFound(StatewayError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "The session does not exist."


class ProjectNotFound(NotFound):
    code = "project_state_not_found"
    default_message = "No state is stored for this project."


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"
    default_message = "The snapshot does not exist."


# 412 / 413 / 415 -------------------------------------------------------------


class PreconditionFailed(StatewayError):
    status = 412
    code = "version_mismatch"
    default_message = "The stored version does not match If-Match."

    def __init__(self, message: str | None = None, *, current_version: int | None = None) -> None:
        super().__init__(message)
        self.current_version = current_version


class PayloadTooLarge(StatewayError):
    status = 413
    code = "state_too_large"
    default_message = "The state document is over the size limit."


class UnsupportedMediaType(StatewayError):
    status = 415
    code = "unsupported_media_type"
    default_message = "The body must be application/json."


# 503 -------------------------------------------------------------------------


class Unavailable(StatewayError):
    """A tier could not answer. Never to be read as "not found"."""

    status = 503
    code = "unavailable"
    default_message = "A storage tier is unavailable; try again."


class CacheUnavailable(Unavailable):
    code = "cache_unavailable"
    default_message = "The cache is unavailable."


class StoreUnavailable(Unavailable):
    code = "store_unavailable"
    default_message = "The durable store is unavailable; nothing was changed."


class MigrationTimedOut(StoreUnavailable):
    """The deploy-time migration did not finish in the time it had (never raised by a request)."""

    code = "migration_timed_out"
    default_message = "The migration did not finish in time; an index build may still be running."


class SnapshotsUnavailable(Unavailable):
    code = "snapshots_unavailable"
    default_message = "The snapshot store is unavailable."
