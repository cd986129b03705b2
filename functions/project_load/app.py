"""GET /api/project-state/{client_id}/{app_id}/{project_id}: from cache, store or the newest snapshot."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/project-state/{client_id}/{app_id}/{project_id}", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.project_load)
def project_load(command: commands.LoadProject) -> bodies.Reply:
    return bodies.project_state(runtime.project_service().load(command.ref))


app = Chalice(app_name="stateway-project-load")
app.register_blueprint(bp)
