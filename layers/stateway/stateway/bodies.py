"""Response bodies of the contract, built from service results (one shape per result, in one place)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stateway import documents
from stateway.clock import isoformat

if TYPE_CHECKING:
    # Types only: a session function must not import the project modules, nor the reverse.
    from stateway.projects import ProjectState, SaveResult, SnapshotPage
    from stateway.sessions import InitResult, SessionList, SessionState


def session_init(result: InitResult) -> dict[str, Any]:
    return {
        "session_id": result.session_id,
        "namespace": result.namespace,
        "state": result.state,
        "version": result.version,
        "created": result.created,
    }


def session_state(result: SessionState, *, with_source: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "session_id": result.session_id,
        # The cached JSON goes into the response as it is, never decoded and encoded again.
        "state": documents.embed(result.payload),
        "version": result.version,
    }
    if with_source:
        body["source"] = result.source
    return body


def session_list(result: SessionList) -> dict[str, Any]:
    return {
        "namespace": result.namespace,
        "sessions": [
            {
                "session_id": s.session_id,
                "app_id": s.app_id,
                "project_id": s.project_id,
                "updated_at": isoformat(s.updated_at),
            }
            for s in result.sessions
        ],
    }


def project_saved(result: SaveResult) -> dict[str, Any]:
    return {
        "version": result.version,
        "saved_at": isoformat(result.saved_at),
        "snapshot": {"id": result.snapshot_id, "status": result.snapshot_status},
    }


def project_state(result: ProjectState) -> dict[str, Any]:
    return {
        "state": result.state,
        "version": result.version,
        "saved_at": isoformat(result.saved_at),
        "source": result.source,
    }


def snapshot_page(page: SnapshotPage) -> dict[str, Any]:
    return {
        "snapshots": [
            {"id": s.id, "version": s.version, "saved_at": isoformat(s.saved_at), "size": s.size}
            for s in page.snapshots
        ],
        "next": page.next,
    }
