"""DELETE /api/session/end?session_id=, or ?client_id=&all=true: end one session or all of the user's."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import http, runtime
from stateway.errors import InvalidRequest

bp = Blueprint(__name__)


@bp.route("/api/session/end", methods=["DELETE"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def session_end(request: http.ApiRequest) -> http.Reply:
    session_id = request.query("session_id", required=False)
    end_all = request.query("all", required=False)
    if session_id is not None and end_all is None and request.query("client_id", required=False) is None:
        runtime.session_service().end(request.session_ref(session_id))
    elif session_id is None and end_all == "true":
        runtime.session_service().end_all(request.client_id_query(), request.identity.user_id)
    else:
        raise InvalidRequest("Give session_id, or client_id with all=true.")
    return http.no_content()


app = Chalice(app_name="stateway-session-end")
app.register_blueprint(bp)
