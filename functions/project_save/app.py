"""PUT /api/project-state/{client_id}/{app_id}/{project_id}: save a new version (store, cache, snapshot)."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime
from stateway.errors import InvalidRequest

bp = Blueprint(__name__)


@bp.route("/api/project-state/{client_id}/{app_id}/{project_id}", methods=["PUT"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def project_save(request: http.ApiRequest, client_id: str, app_id: str, project_id: str) -> http.Reply:
    ref = request.project_ref(client_id, app_id, project_id)
    body = request.json_object()
    if "state" not in body:
        raise InvalidRequest('The body must be {"state": {...}}.')
    result = runtime.project_service().save(ref, body["state"], expected_version=request.if_match())
    return http.reply(bodies.project_saved(result), version=result.version)


app = Chalice(app_name="stateway-project-save")
app.register_blueprint(bp)
