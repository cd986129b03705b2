"""GET /api/project-state/{client_id}/{app_id}/{project_id}/snapshots?limit=&before=: history, newest first."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-project-snapshots")


@http.route(
    app, "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots", "GET", commands.project_snapshots
)
def project_snapshots(command: commands.ListSnapshots) -> bodies.Reply:
    return bodies.snapshot_page(
        runtime.project_service().snapshots(command.ref, limit=command.limit, before=command.before)
    )
