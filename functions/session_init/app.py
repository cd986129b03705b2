"""POST /api/session/init: load the session, or create it from defaults, once."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime
from stateway.errors import InvalidRequest
from stateway.ids import SessionRef

bp = Blueprint(__name__)


@bp.route("/api/session/init", methods=["POST"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def session_init(request: http.ApiRequest) -> http.Reply:
    body = request.json_object()
    ref = SessionRef.of(
        body.get("client_id"), body.get("user_id"), body.get("app_id"), body.get("project_id")
    )
    request.authorize(ref.client_id, ref.user_id)
    env = body.get("env", {})
    if not isinstance(env, dict):
        raise InvalidRequest("env must be an object.")
    result = runtime.session_service().init(ref, env)
    return http.reply(bodies.session_init(result), version=result.version)


app = Chalice(app_name="stateway-session-init")
app.register_blueprint(bp)
