"""PATCH /api/session/update: set one key, or append one navigation entry."""

from __future__ import annotations

from chalice import Blueprint, Chalice

from stateway import bodies, commands, http, runtime

bp = Blueprint(__name__)


@bp.route("/api/session/update", methods=["PATCH"], **http.ROUTE_OPTIONS)
@http.endpoint(bp, commands.session_update)
def session_update(command: commands.UpdateSession) -> bodies.Reply:
    return bodies.session_updated(runtime.session_service().update(command))


app = Chalice(app_name="stateway-session-update")
app.register_blueprint(bp)
