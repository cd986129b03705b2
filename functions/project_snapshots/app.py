"""GET /api/project-state/{client_id}/{app_id}/{project_id}/snapshots?limit=&before=: history, newest first."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime
from stateway.projects import MAX_PAGE

bp = Blueprint(__name__)


@bp.route(
    "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots", methods=["GET"], **http.ROUTE_OPTIONS
)
@http.endpoint(bp)
def project_snapshots(request: http.ApiRequest, client_id: str, app_id: str, project_id: str) -> http.Reply:
    ref = request.project_ref(client_id, app_id, project_id)
    limit = request.query_int("limit", default=20, low=1, high=MAX_PAGE)
    page = runtime.project_service().snapshots(
        ref, limit=limit, before=request.query("before", required=False)
    )
    return http.reply(bodies.snapshot_page(page))


app = Chalice(app_name="stateway-project-snapshots")
app.register_blueprint(bp)
