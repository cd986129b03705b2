"""PATCH /api/session/update: set one key, or append one navigation entry."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, http, runtime
from stateway.errors import InvalidRequest

bp = Blueprint(__name__)


@bp.route("/api/session/update", methods=["PATCH"], **http.ROUTE_OPTIONS)
@http.endpoint(bp)
def session_update(request: http.ApiRequest) -> http.Reply:
    body = request.json_object()
    ref = request.session_ref(body.get("session_id"))
    expected = request.if_match()
    service = runtime.session_service()
    if "navigation" in body and "key" not in body and "value" not in body:
        result = service.add_navigation(ref, body["navigation"], expected_version=expected)
    elif "key" in body and "value" in body and "navigation" not in body:
        result = service.update_key(ref, body["key"], body["value"], expected_version=expected)
    else:
        raise InvalidRequest("Give either key and value, or navigation.")
    return http.reply(bodies.session_state(result, with_source=False), version=result.version)


app = Chalice(app_name="stateway-session-update")
app.register_blueprint(bp)
