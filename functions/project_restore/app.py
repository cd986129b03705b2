"""POST /api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime

bp = Blueprint(__name__)


@bp.route(
    "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore",
    methods=["POST"],
    **http.ROUTE_OPTIONS,
)
@http.endpoint(bp)
def project_restore(
    request: http.ApiRequest, client_id: str, app_id: str, project_id: str, snapshot_id: str
) -> http.Reply:
    ref = request.project_ref(client_id, app_id, project_id)
    result = runtime.project_service().restore(ref, snapshot_id, expected_version=request.if_match())
    return http.reply(bodies.project_saved(result), version=result.version)


app = Chalice(app_name="stateway-project-restore")
app.register_blueprint(bp)
