"""GET /api/session/list?client_id=: the caller's sessions within a client, newest first."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/list", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def session_list(request: http.ApiRequest) -> http.Reply:
    result = runtime.session_service().list_sessions(request.client_id_query(), request.identity.user_id)
    return http.reply(bodies.session_list(result))


app = Chalice(app_name="stateway-session-list")
app.register_blueprint(bp)
