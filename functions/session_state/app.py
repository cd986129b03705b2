"""GET /api/session/state?session_id=: the state from cache, store, or new defaults."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/state", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def session_state(request: http.ApiRequest) -> http.Reply:
    ref = request.session_ref(request.query("session_id"))
    result = runtime.session_service().state(ref)
    return http.reply(bodies.session_state(result), version=result.version)


app = Chalice(app_name="stateway-session-state")
app.register_blueprint(bp)
