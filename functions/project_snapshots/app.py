"""GET /api/project-state/{client_id}/{app_id}/{project_id}/snapshots?limit=&before=: history, newest first."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route(
    "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots", methods=["GET"], **http.ROUTE_OPTIONS
)
@http.endpoint(bp, commands.project_snapshots)
def project_snapshots(command: commands.ListSnapshots) -> bodies.Reply:
    return bodies.snapshot_page(
        runtime.project_service().snapshots(command.ref, limit=command.limit, before=command.before)
    )


app = Chalice(app_name="stateway-project-snapshots")
app.register_blueprint(bp)
