"""GET /api/project-state/{client_id}/{app_id}/{project_id}: from cache, store or the newest snapshot."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/project-state/{client_id}/{app_id}/{project_id}", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def project_load(request: http.ApiRequest, client_id: str, app_id: str, project_id: str) -> http.Reply:
    result = runtime.project_service().load(request.project_ref(client_id, app_id, project_id))
    return http.reply(bodies.project_state(result), version=result.version)


app = Chalice(app_name="stateway-project-load")
app.register_blueprint(bp)
