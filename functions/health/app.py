"""GET /api/health: each tier "ok" or "down"; 503 when the store is down. No token."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import http, runtime

bp = Blueprint(__name__)


@bp.route("/api/health", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, auth=False)
def health(request: http.ApiRequest) -> http.Reply:
    result = runtime.health()
    body = {"cache": result.cache, "store": result.store, "snapshots": result.snapshots}
    return http.reply(body, status=200 if result.healthy else 503)


app = Chalice(app_name="stateway-health")
app.register_blueprint(bp)
