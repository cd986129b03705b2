"""POST /api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore."""

from __future__ import annotations

from chalice import Chalice

from stateway import bodies, commands, http, runtime

app = Chalice(app_name="stateway-project-restore")


@http.route(
    app,
    "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore",
    "POST",
    commands.project_restore,
)
def project_restore(command: commands.RestoreSnapshot) -> bodies.Reply:
    return bodies.project_saved(
        runtime.project_service().restore(
            command.ref, command.snapshot_id, expected_version=command.expected_version
        )
    )
