"""Responses of the contract, built from service results (one shape per result, in one place)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stateway import documents
from stateway.clock import isoformat

if TYPE_CHECKING:
    # Types only: a session function must not import the project modules, nor the reverse.
    from stateway.projects import ProjectState, SaveResult, SnapshotPage
    from stateway.runtime import Health
    from stateway.sessions import InitResult, SessionList, SessionState


@dataclass(frozen=True, slots=True)
class Reply:
    """What a view returns: a JSON body (or none), a status, and the version for ``ETag``."""

    body: Any = None
    status: int = 200
    version: int | None = None


def session_init(result: InitResult) -> Reply:
    body = {
        "session_id": result.session_id,
        "namespace": result.namespace,
        "state": result.state,
        "version": result.version,
        "created": result.created,
    }
    return Reply(body, version=result.version)


def session_state(result: SessionState) -> Reply:
    return Reply({**_session(result), "source": result.source}, version=result.version)


def session_updated(result: SessionState) -> Reply:
    return Reply(_session(result), version=result.version)


def _session(result: SessionState) -> dict[str, Any]:
    return {
        "session_id": result.session_id,
        # The cached JSON goes into the response as it is, never decoded and encoded again.
        "state": documents.embed(result.payload),
        "version": result.version,
    }


def session_list(result: SessionList) -> Reply:
    sessions = [
        {
            "session_id": s.session_id,
            "app_id": s.app_id,
            "project_id": s.project_id,
            "updated_at": isoformat(s.updated_at),
        }
        for s in result.sessions
    ]
    return Reply({"namespace": result.namespace, "sessions": sessions})


def ended() -> Reply:
    """204, no body: the session (or all of them) is gone, whether or not it existed."""
    return Reply(None, 204)


def project_saved(result: SaveResult) -> Reply:
    body = {
        "version": result.version,
        "saved_at": isoformat(result.saved_at),
        "snapshot": {"id": result.snapshot_id, "status": result.snapshot_status},
    }
    return Reply(body, version=result.version)


def project_state(result: ProjectState) -> Reply:
    body = {
        "state": result.state,
        "version": result.version,
        "saved_at": isoformat(result.saved_at),
        "source": result.source,
    }
    return Reply(body, version=result.version)


def snapshot_page(page: SnapshotPage) -> Reply:
    snapshots = [
        {"id": s.id, "version": s.version, "saved_at": isoformat(s.saved_at), "size": s.size}
        for s in page.snapshots
    ]
    return Reply({"snapshots": snapshots, "next": page.next})


def health(result: Health) -> Reply:
    """Each tier "ok" or "down"; 503 when the service cannot serve (its store is down)."""
    body = {"cache": result.cache, "store": result.store, "snapshots": result.snapshots}
    return Reply(body, 200 if result.healthy else 503)
