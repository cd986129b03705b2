"""POST /api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route(
    "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore",
    methods=["POST"],
    **http.ROUTE_OPTIONS,
)
@http.endpoint(bp, commands.project_restore)
def project_restore(command: commands.RestoreSnapshot) -> bodies.Reply:
    return bodies.project_saved(
        runtime.project_service().restore(
            command.ref, command.snapshot_id, expected_version=command.expected_version
        )
    )


app = Chalice(app_name="stateway-project-restore")
app.register_blueprint(bp)
