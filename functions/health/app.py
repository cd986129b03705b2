"""GET /api/health: each tier "ok" or "down"; 503 when the store is down. No token."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/health", methods=["GET"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.public, public=True)
def health(command: None) -> bodies.Reply:
    return bodies.health(runtime.health())


app = Chalice(app_name="stateway-health")
app.register_blueprint(bp)
